using Akka.Actor;
using Courier.Diagnostics;
using Courier.Errors;

namespace Courier.Requests;

/// <summary>
/// The entry point of the request path. It caps the calls in flight (<see cref="HttpRuntimeOptions.MaxConcurrentCalls"/>),
/// keeps a bounded queue behind the cap (<see cref="HttpRuntimeOptions.MaxQueuedCalls"/>: past it a call is refused at once,
/// never parked in an unbounded mailbox), spawns one <c>RequestActor</c> per call and answers each
/// <see cref="ExecuteCall"/> sender with exactly one <see cref="CallResult"/>.
/// </summary>
/// <remarks>
/// This type is also the key of the coordinator in Akka.Hosting's <c>ActorRegistry</c>:
/// inject <c>IRequiredActor&lt;RequestCoordinator&gt;</c> to talk to it from your own actors.
/// </remarks>
public sealed class RequestCoordinator : ReceiveActor
{
    private readonly RequestRuntime _runtime;
    private readonly Dictionary<long, Running> _running = new();
    private readonly Dictionary<IActorRef, long> _callByChild = new();
    private readonly Internal.IndexedQueue<Pending> _queue = new();

    internal RequestCoordinator(RequestRuntime runtime)
    {
        _runtime = runtime;
        Receive<ExecuteCall>(OnExecute);
        Receive<RequestFinished>(OnFinished);
        Receive<CancelCall>(OnCancel);
        Receive<Terminated>(OnTerminated);
    }

    internal static Props Props(RequestRuntime runtime) => Internal.FactoryProducer<RequestCoordinator>.Props(() => new RequestCoordinator(runtime));

    /// <summary>
    /// Stopping (the actor system shuts down): every call still queued or running is answered now, so no caller waits
    /// for an answer that will never come.
    /// </summary>
    protected override void PostStop()
    {
        foreach (var running in _running.Values)
            running.ReplyTo.Tell(new CallFailed(running.Call.Id,
                new RuntimeUnavailableException(running.Call.Method, running.Call.Uri, 0, "the runtime stopped (the actor system is shutting down)"), 0));
        foreach (var pending in _queue)
        {
            CallTelemetry.Dequeued(_runtime, pending.Call);
            pending.ReplyTo.Tell(new CallFailed(pending.Call.Id,
                new RuntimeUnavailableException(pending.Call.Method, pending.Call.Uri, 0, "the runtime stopped before the call was sent"), 0));
        }
        _running.Clear();
        _queue.Clear();
    }

    /// <summary>A RequestActor that throws is stopped, never restarted: restarting would send its call again.</summary>
    protected override SupervisorStrategy SupervisorStrategy() =>
        new OneForOneStrategy(_ => Directive.Stop);

    private void OnExecute(ExecuteCall message)
    {
        var call = message.Call;
        CallTelemetry.Accepted(_runtime);
        if (!call.Uri.IsAbsoluteUri || (call.Uri.Scheme != Uri.UriSchemeHttp && call.Uri.Scheme != Uri.UriSchemeHttps))
        {
            CallTelemetry.Refused(_runtime, call, "invalid_request", Context.System.Scheduler.Now, Context.System.Scheduler.Now);
            Sender.Tell(new CallFailed(call.Id, new InvalidHttpCallException(call.Method, call.Uri, "the URL must be an absolute http or https URL"), 0));
            return;
        }

        if (_running.ContainsKey(call.Id) || _queue.Contains(call.Id))
        {
            // The same HttpCall object sent twice at once: its answers and its cancellation could not be told apart.
            CallTelemetry.Refused(_runtime, call, "invalid_request", Context.System.Scheduler.Now, Context.System.Scheduler.Now);
            Sender.Tell(new CallFailed(call.Id, new InvalidHttpCallException(call.Method, call.Uri,
                $"call {call.Id} is already in flight; send a copy (call with {{ }}) to run it twice"), 0));
            return;
        }

        var submittedAt = Context.System.Scheduler.Now;
        if (_running.Count < _runtime.MaxConcurrentCalls)
        {
            Start(new Pending(call, Sender, submittedAt));
        }
        else if (_queue.Count < _runtime.MaxQueuedCalls)
        {
            _queue.Enqueue(call.Id, new Pending(call, Sender, submittedAt));
            CallTelemetry.Queued(_runtime, call);
        }
        else
        {
            CallTelemetry.Refused(_runtime, call, "queue_full", submittedAt, submittedAt);
            Sender.Tell(new CallFailed(call.Id, new CallQueueFullException(call.Method, call.Uri, _running.Count, _queue.Count), 0));
        }
    }

    private void Start(Pending pending)
    {
        var child = Context.ActorOf(RequestActor.Props(pending.Call, _runtime, pending.SubmittedAt));
        Context.Watch(child);
        _running[pending.Call.Id] = new Running(pending.Call, pending.ReplyTo, child);
        _callByChild[child] = pending.Call.Id;
    }

    private void OnFinished(RequestFinished message)
    {
        if (!_running.Remove(message.Result.CallId, out var running)) return;
        _callByChild.Remove(running.Child);
        Context.Unwatch(running.Child);
        running.ReplyTo.Tell(message.Result);
        StartNextQueued();
    }

    private void OnTerminated(Terminated message)
    {
        // A RequestActor reports before it stops, so a call still registered here means it crashed.
        if (!_callByChild.Remove(message.ActorRef, out var callId)) return;
        if (_running.Remove(callId, out var running))
        {
            _runtime.Telemetry.Metrics.Failed("runtime");
            running.ReplyTo.Tell(new CallFailed(callId,
                new RuntimeUnavailableException(running.Call.Method, running.Call.Uri, 0, "the actor running the call stopped unexpectedly"), 0));
        }
        StartNextQueued();
    }

    private void OnCancel(CancelCall message)
    {
        if (_running.TryGetValue(message.CallId, out var running))
        {
            running.Child.Forward(message);
            return;
        }
        if (_queue.TryRemove(message.CallId, out var queued))
        {
            var call = queued.Call;
            CallTelemetry.Dequeued(_runtime, call);
            CallTelemetry.Refused(_runtime, call, "cancelled", queued.SubmittedAt, Context.System.Scheduler.Now);
            queued.ReplyTo.Tell(new CallFailed(call.Id, new HttpCallCanceledException(call.Method, call.Uri, 0), 0));
        }
    }

    private void StartNextQueued()
    {
        while (_running.Count < _runtime.MaxConcurrentCalls && _queue.TryDequeue(p => p.Call.Id, out var next))
        {
            CallTelemetry.Dequeued(_runtime, next.Call);
            Start(next);
        }
    }

    private sealed record Pending(HttpCall Call, IActorRef ReplyTo, DateTimeOffset SubmittedAt);

    private sealed record Running(HttpCall Call, IActorRef ReplyTo, IActorRef Child);
}
