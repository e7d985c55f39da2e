using Akka.Actor;
using Courier.Diagnostics;
using Courier.Internal;

namespace Courier.Transfers;

/// <summary>
/// The entry point of file transfers. It caps the transfers running at once (<see cref="TransferOptions.MaxConcurrentTransfers"/>,
/// separate from the call cap), keeps a bounded queue behind the cap (<see cref="TransferOptions.MaxQueuedTransfers"/>),
/// spawns one actor per transfer (<c>DownloadActor</c>, <c>MultipartUploadActor</c>, <c>TusUploadActor</c>) and answers each
/// <see cref="StartDownload"/> / <see cref="StartUpload"/> sender with exactly one <see cref="TransferResult"/>, also when it
/// stops (the runtime shuts down): a transfer still running or queued then fails with
/// <see cref="TransferFailure.RuntimeUnavailable"/>, its <c>.part</c> kept for a resume.
/// </summary>
/// <remarks>
/// This type is also the key of the coordinator in Akka.Hosting's <c>ActorRegistry</c>:
/// inject <c>IRequiredActor&lt;TransferCoordinator&gt;</c> to talk to it from your own actors.
/// </remarks>
public sealed class TransferCoordinator : ReceiveActor, IAdmissionHost<TransferCoordinator.Pending, TransferResult>
{
    private readonly TransferRuntime _runtime;
    private readonly Admission<Pending, TransferResult> _admission;
    private long _spawned; // keeps child names unique even when a caller reuses an id right after its transfer ended

    internal TransferCoordinator(TransferRuntime runtime)
    {
        _runtime = runtime;
        _admission = new Admission<Pending, TransferResult>(this, Context, runtime.MaxConcurrentTransfers, runtime.MaxQueuedTransfers);
        Receive<StartDownload>(m => OnStart(new Pending(m.Request.Id, TransferDirection.Download, m.Request.Source, m.Request)));
        Receive<StartUpload>(m => OnStart(new Pending(m.Request.Id, TransferDirection.Upload, m.Request.Target, m.Request)));
        Receive<TransferFinished>(m => _admission.Finished(m.Result.TransferId, m.Result));
        Receive<CancelTransfer>(m => _admission.Cancel(m.TransferId, m));
        Receive<QueueDeadlineReached>(_admission.DeadlineReached);
        Receive<Terminated>(m => _admission.ChildTerminated(m.ActorRef));
    }

    internal static Props Props(TransferRuntime runtime) => FactoryProducer<TransferCoordinator>.Props(() => new TransferCoordinator(runtime));

    /// <summary>Stopping: every transfer still running or queued is answered now, so no caller waits for ever.</summary>
    protected override void PostStop() => _admission.Stop();

    /// <summary>A transfer actor that throws is stopped, never restarted: its file and request state cannot be trusted.</summary>
    protected override SupervisorStrategy SupervisorStrategy() => new OneForOneStrategy(_ => Directive.Stop);

    private void OnStart(Pending pending)
    {
        if (!pending.Url.IsAbsoluteUri || pending.Url.Scheme != Uri.UriSchemeHttp && pending.Url.Scheme != Uri.UriSchemeHttps)
        {
            Reply(Sender, Publish(new TransferFailed(pending.Id, pending.Direction,
                new TransferException(TransferFailure.InvalidRequest, $"Transfer {pending.Id}: '{SafeUrl.Format(pending.Url)}' is not an absolute http or https URL."))));
            return;
        }
        _admission.Submit(pending.Id, pending, Sender);
    }

    IActorRef IAdmissionHost<Pending, TransferResult>.StartChild(long id, Pending pending, DateTimeOffset submittedAt)
    {
        var props = pending.Request switch
        {
            DownloadRequest download => DownloadActor.Props(download, _runtime),
            UploadRequest { Protocol: UploadProtocol.Tus } tus => TusUploadActor.Props(tus, _runtime),
            UploadRequest multipart => MultipartUploadActor.Props(multipart, _runtime),
            _ => throw new InvalidOperationException($"Unknown transfer request {pending.Request.GetType().Name}."),
        };
        return Context.ActorOf(props, $"transfer-{id}-{++_spawned}");
    }

    /// <summary>Transfers have no deadline: a queued one waits for a slot or its cancellation.</summary>
    TimeSpan? IAdmissionHost<Pending, TransferResult>.QueueDeadline(Pending pending) => null;

    void IAdmissionHost<Pending, TransferResult>.Reply(IActorRef replyTo, TransferResult result) => Reply(replyTo, result);

    /// <summary>Answers a transfer its actor did not answer, and publishes the result as the actors do.</summary>
    TransferResult IAdmissionHost<Pending, TransferResult>.Answer(long id, Pending pending, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt) => Publish(end switch
    {
        AdmissionEnd.Duplicate => Failed(pending, TransferFailure.InvalidRequest, $"Transfer {id} is already running: give every transfer its own id."),
        AdmissionEnd.QueueFull => Failed(pending, TransferFailure.QueueFull,
            $"Transfer {id} was refused: {running} transfers running and {queued} queued, the configured maximum (Transfers:MaxConcurrentTransfers, Transfers:MaxQueuedTransfers)."),
        AdmissionEnd.CancelledInQueue => new TransferCancelled(id, pending.Direction, 0, null),
        AdmissionEnd.Crashed => Failed(pending, TransferFailure.RuntimeUnavailable,
            $"Transfer {id}: the actor running it stopped unexpectedly; any .part file is kept for a resume."),
        AdmissionEnd.StoppedInQueue => Failed(pending, TransferFailure.RuntimeUnavailable, $"Transfer {id}: the runtime stopped before the transfer started."),
        _ => Failed(pending, TransferFailure.RuntimeUnavailable, $"Transfer {id}: the runtime stopped while the transfer ran; any .part file is kept for a resume."),
    });

    private static TransferFailed Failed(Pending pending, TransferFailure failure, string message) =>
        new(pending.Id, pending.Direction, new TransferException(failure, message));

    private TransferResult Publish(TransferResult result)
    {
        Context.System.EventStream.Publish(result);
        return result;
    }

    private static void Reply(IActorRef replyTo, TransferResult result) => replyTo.Tell(result);

    /// <summary>A transfer as the coordinator holds it.</summary>
    internal sealed record Pending(long Id, TransferDirection Direction, Uri Url, object Request);
}
