using Akka.Actor;
using Courier.Diagnostics;
using Courier.Errors;
using Courier.Internal;
using Courier.Requests.Hosts;

namespace Courier.Requests;

/// <summary>
/// The entry point of the request path. It caps the calls in flight (<see cref="HttpRuntimeOptions.MaxConcurrentCalls"/>),
/// keeps a bounded queue behind the cap (<see cref="HttpRuntimeOptions.MaxQueuedCalls"/>: past it a call is refused at once,
/// never parked in an unbounded mailbox), answers a queued call at its deadline, runs each call in a <c>RequestActor</c>
/// of its own (one call at a time per actor; an actor whose call ended is reused for a later call) and answers each
/// <see cref="ExecuteCall"/> sender with exactly one <see cref="CallResult"/>, also when it stops.
/// Behind the cap, a per-host gate (<see cref="HostGate"/>, settings <c>Courier:Hosts</c>) admits each attempt of a
/// running call: a host's pause, window, rate and circuit breaker hold or fail its calls, never another host's. A call
/// waiting for its host gives its slot under the cap up and takes one again before it is sent, so the cap bounds the
/// calls sending and calls waiting for a paused host never hold up calls to another.
/// </summary>
/// <remarks>
/// This type is also the key of the coordinator in Akka.Hosting's <c>ActorRegistry</c>:
/// inject <c>IRequiredActor&lt;RequestCoordinator&gt;</c> to talk to it from your own actors.
/// </remarks>
public sealed class RequestCoordinator : ReceiveActor, IAdmissionHost<HttpCall, CallResult>, IWithTimers
{
    private readonly RequestRuntime _runtime;
    private readonly Admission<HttpCall, CallResult> _admission;
    private HostGate? _hosts;

    // RequestActors whose call ended, waiting for the next one: a call runs in its own actor, one at a time, but the
    // actor is made once and reused (creating and stopping one per call was half of the runtime's allocations and a good
    // part of its CPU per call, bench/RESULTS.md). At most MaxConcurrentCalls exist; the idle ones are kept up to IdleCap.
    private readonly Stack<IActorRef> _idle = new();
    private const int IdleCap = 1024;

    /// <summary>The coordinator's timers (one per host that waits for a time); set by Akka.</summary>
    ITimerScheduler IWithTimers.Timers { get; set; } = null!;

    private HostGate Hosts => _hosts ??= new HostGate(_runtime.Hosts, _runtime.Telemetry.Metrics.Hosts, Context, ((IWithTimers)this).Timers, _admission);

    internal RequestCoordinator(RequestRuntime runtime)
    {
        _runtime = runtime;
        HttpRuntime.EnsureDispatcher(Context.System); // its RequestActors' (a coordinator made without HttpRuntime, in tests)
        // The RequestActors are watched for their lifetime (StartChild), not once per call: they are reused.
        _admission = new Admission<HttpCall, CallResult>(this, Context, runtime.MaxConcurrentCalls, runtime.MaxQueuedCalls, hostWatchesChildren: true);
        Receive<ExecuteCall>(OnExecute);
        Receive<RequestFinished>(m =>
        {
            if (m.LastAttempt is { } ended) Hosts.Ended(ended); // as if told before the report, as it used to be
            Hosts.CallEnded(m.Result.CallId);
            // Idle before the admission moves on, so that a queued call it starts now reuses this actor.
            if (_idle.Count < IdleCap) _idle.Push(Sender);
            else Context.Stop(Context.Unwatch(Sender)); // no Terminated to look up
            _admission.Finished(m.Result.CallId, m.Result);
        });
        Receive<CancelCall>(m => _admission.Cancel(m.CallId, m));
        Receive<QueueDeadlineReached>(_admission.DeadlineReached);
        Receive<AttemptPermitRequest>(m =>
        {
            Hosts.Request(m, Sender);
            if (m.Announce is { } announced) Context.System.EventStream.Publish(announced);
        });
        Receive<AttemptEnded>(m => Hosts.Ended(m));
        Receive<HostReady>(m => Hosts.TimerFired(m));
        Receive<Terminated>(m =>
        {
            // A RequestActor that stopped without reporting (it threw) may hold a host permit: release it first.
            if (_admission.ChildTerminated(m.ActorRef) is { } callId) Hosts.CallEnded(callId);
            else if (_idle.Contains(m.ActorRef)) DropIdle(m.ActorRef); // stopped between two calls (over IdleCap, or it threw)
        });
    }

    internal static Props Props(RequestRuntime runtime) => FactoryProducer<RequestCoordinator>.Props(() => new RequestCoordinator(runtime));

    /// <summary>
    /// Stopping (the actor system shuts down): every call still queued or running is answered now, so no caller waits
    /// for an answer that will never come.
    /// </summary>
    protected override void PostStop() => _admission.Stop();

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
        if (!_runtime.KnowsCredential(call))
        {
            // Issue 11: a call naming a credential this runtime does not have fails at once, naming it.
            CallTelemetry.Refused(_runtime, call, "invalid_request", Context.System.Scheduler.Now, Context.System.Scheduler.Now);
            Sender.Tell(new CallFailed(call.Id, new InvalidHttpCallException(call.Method, call.Uri,
                $"no credential named '{call.Credential}' is configured (Courier:Credentials:{call.Credential})"), 0));
            return;
        }
        _admission.Submit(call.Id, call, Sender);
    }

    IActorRef IAdmissionHost<HttpCall, CallResult>.StartChild(long id, HttpCall call, DateTimeOffset submittedAt)
    {
        // The first attempt's permit comes with the call when its host admits it now and no token wait comes first
        // (a permit is held only by an attempt about to be sent): no permit round trip on the common path.
        var permit = _runtime.MaySendAtOnce(call, Context.System.Scheduler) ? Hosts.TryAdmitAtOnce(call.Id, HostKey.From(call.Uri)) : null;
        if (_idle.TryPop(out var idle))
        {
            idle.Tell(new RunCall(call, submittedAt, permit));
            return idle;
        }
        return Context.Watch(Context.ActorOf(RequestActor.Props(call, _runtime, submittedAt, permit, pooled: true).WithDispatcher(_runtime.Dispatcher)));
    }

    /// <summary>An idle RequestActor stopped: it must not be given a call (rare, so the stack is rebuilt without it).</summary>
    private void DropIdle(IActorRef stopped)
    {
        var kept = _idle.Where(a => !a.Equals(stopped)).Reverse().ToArray();
        _idle.Clear();
        foreach (var actor in kept) _idle.Push(actor);
    }

    TimeSpan? IAdmissionHost<HttpCall, CallResult>.QueueDeadline(HttpCall call) => call.Deadline ?? _runtime.CallDeadline;

    void IAdmissionHost<HttpCall, CallResult>.Reply(IActorRef replyTo, CallResult result) => replyTo.Tell(result);

    void IAdmissionHost<HttpCall, CallResult>.SlotsFreed() => Hosts.SlotsFreed();

    void IAdmissionHost<HttpCall, CallResult>.Queued(HttpCall call) => CallTelemetry.Queued(_runtime, call);

    void IAdmissionHost<HttpCall, CallResult>.Dequeued(HttpCall call) => CallTelemetry.Dequeued(_runtime, call);

    CallResult IAdmissionHost<HttpCall, CallResult>.Answer(long id, HttpCall call, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt)
    {
        var (tag, error) = end switch
        {
            // The same HttpCall object sent twice at once: its answers and its cancellation could not be told apart.
            AdmissionEnd.Duplicate => ("invalid_request", (Exception)new InvalidHttpCallException(call.Method, call.Uri,
                $"call {id} is already in flight; send a copy (call with {{ }}) to run it twice")),
            AdmissionEnd.QueueFull => ("queue_full", new CallQueueFullException(call.Method, call.Uri, running, queued)),
            AdmissionEnd.CancelledInQueue => ("cancelled", new HttpCallCanceledException(call.Method, call.Uri, 0)),
            AdmissionEnd.DeadlineInQueue => ("deadline", new HttpCallTimeoutException(call.Method, call.Uri, 0, TimeoutKind.Deadline,
                call.Deadline ?? _runtime.CallDeadline, "it waited in the queue (Courier:MaxConcurrentCalls calls running) until its deadline")),
            AdmissionEnd.Crashed => ("runtime", new RuntimeUnavailableException(call.Method, call.Uri, 0, "the actor running the call stopped unexpectedly")),
            AdmissionEnd.StoppedInQueue => ("runtime", new RuntimeUnavailableException(call.Method, call.Uri, 0, "the runtime stopped before the call was sent")),
            _ => ("runtime", new RuntimeUnavailableException(call.Method, call.Uri, 0, "the runtime stopped (the actor system is shutting down)")),
        };
        CallTelemetry.Refused(_runtime, call, tag, submittedAt, Context.System.Scheduler.Now);
        return new CallFailed(id, error, 0);
    }
}
