using Akka.Actor;
using Courier.Diagnostics;

namespace Courier.Transfers;

/// <summary>
/// The entry point of file transfers. It caps the transfers running at once (<see cref="TransferOptions.MaxConcurrentTransfers"/>,
/// separate from the call cap), keeps a bounded queue behind the cap (<see cref="TransferOptions.MaxQueuedTransfers"/>),
/// spawns one actor per transfer (<c>DownloadActor</c>, <c>MultipartUploadActor</c>, <c>TusUploadActor</c>) and answers each
/// <see cref="StartDownload"/> / <see cref="StartUpload"/> sender with exactly one <see cref="TransferResult"/>.
/// </summary>
/// <remarks>
/// This type is also the key of the coordinator in Akka.Hosting's <c>ActorRegistry</c>:
/// inject <c>IRequiredActor&lt;TransferCoordinator&gt;</c> to talk to it from your own actors.
/// </remarks>
public sealed class TransferCoordinator : ReceiveActor
{
    private readonly TransferRuntime _runtime;
    private readonly Dictionary<long, Running> _running = new();
    private readonly Dictionary<IActorRef, long> _idByChild = new();
    private readonly Internal.IndexedQueue<Pending> _queue = new();
    private long _spawned; // keeps child names unique even when a caller reuses an id right after its transfer ended

    internal TransferCoordinator(TransferRuntime runtime)
    {
        _runtime = runtime;
        Receive<StartDownload>(m => OnStart(new Pending(m.Request.Id, TransferDirection.Download, m.Request.Source, m.Request, Sender)));
        Receive<StartUpload>(m => OnStart(new Pending(m.Request.Id, TransferDirection.Upload, m.Request.Target, m.Request, Sender)));
        Receive<TransferFinished>(OnFinished);
        Receive<CancelTransfer>(OnCancel);
        Receive<Terminated>(OnTerminated);
    }

    internal static Props Props(TransferRuntime runtime) => Internal.FactoryProducer<TransferCoordinator>.Props(() => new TransferCoordinator(runtime));

    /// <summary>A transfer actor that throws is stopped, never restarted: its file and request state cannot be trusted.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void OnStart(Pending pending)
    {
        if (!pending.Url.IsAbsoluteUri || pending.Url.Scheme != Uri.UriSchemeHttp && pending.Url.Scheme != Uri.UriSchemeHttps)
        {
            Reply(pending, new TransferFailed(pending.Id, pending.Direction,
                new TransferException(TransferFailure.InvalidRequest, $"Transfer {pending.Id}: '{SafeUrl.Format(pending.Url)}' is not an absolute http or https URL.")));
            return;
        }
        if (_running.ContainsKey(pending.Id) || _queue.Contains(pending.Id))
        {
            Reply(pending, new TransferFailed(pending.Id, pending.Direction,
                new TransferException(TransferFailure.InvalidRequest, $"Transfer {pending.Id} is already running: give every transfer its own id.")));
            return;
        }
        if (_running.Count < _runtime.MaxConcurrentTransfers)
        {
            Start(pending);
        }
        else if (_queue.Count < _runtime.MaxQueuedTransfers)
        {
            _queue.Enqueue(pending.Id, pending);
        }
        else
        {
            Reply(pending, new TransferFailed(pending.Id, pending.Direction, new TransferException(TransferFailure.QueueFull,
                $"Transfer {pending.Id} was refused: {_running.Count} transfers running and {_queue.Count} queued, the configured maximum (Transfers:MaxConcurrentTransfers, Transfers:MaxQueuedTransfers).")));
        }
    }

    private void Start(Pending pending)
    {
        var props = pending.Request switch
        {
            DownloadRequest download => DownloadActor.Props(download, _runtime),
            UploadRequest { Protocol: UploadProtocol.Tus } tus => TusUploadActor.Props(tus, _runtime),
            UploadRequest multipart => MultipartUploadActor.Props(multipart, _runtime),
            _ => throw new InvalidOperationException($"Unknown transfer request {pending.Request.GetType().Name}."),
        };
        var child = Context.ActorOf(props, $"transfer-{pending.Id}-{++_spawned}");
        Context.Watch(child);
        _running[pending.Id] = new Running(pending, child);
        _idByChild[child] = pending.Id;
    }

    private void OnFinished(TransferFinished message)
    {
        if (!_running.Remove(message.Result.TransferId, out var running)) return;
        _idByChild.Remove(running.Child);
        Context.Unwatch(running.Child);
        running.Pending.ReplyTo.Tell(message.Result);
        StartNextQueued();
    }

    private void OnTerminated(Terminated message)
    {
        // A transfer actor reports before it stops, so one still registered here crashed.
        if (!_idByChild.Remove(message.ActorRef, out var id)) return;
        if (_running.Remove(id, out var running))
        {
            Reply(running.Pending, new TransferFailed(id, running.Pending.Direction,
                new TransferException(TransferFailure.RuntimeUnavailable, $"Transfer {id}: the actor running it stopped unexpectedly; any .part file is kept for a resume.")));
        }
        StartNextQueued();
    }

    private void OnCancel(CancelTransfer message)
    {
        if (_running.TryGetValue(message.TransferId, out var running))
        {
            running.Child.Forward(message);
            return;
        }
        if (_queue.TryRemove(message.TransferId, out var queued))
            Reply(queued, new TransferCancelled(queued.Id, queued.Direction, 0, null));
    }

    /// <summary>Answers a transfer that never got an actor, and publishes the same result as the actors do.</summary>
    private void Reply(Pending pending, TransferResult result)
    {
        Context.System.EventStream.Publish(result);
        pending.ReplyTo.Tell(result);
    }

    private void StartNextQueued()
    {
        while (_running.Count < _runtime.MaxConcurrentTransfers && _queue.TryDequeue(p => p.Id, out var next))
            Start(next);
    }

    private sealed record Pending(long Id, TransferDirection Direction, Uri Url, object Request, IActorRef ReplyTo);

    private sealed record Running(Pending Pending, IActorRef Child);
}
