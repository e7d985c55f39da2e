using Akka.Actor;
using Courier.Diagnostics;
using Courier.Internal;

namespace Courier.Requests.Hosts;

/// <summary>
/// The per-host gate of the request coordinator, a second gate after its global cap (<c>Admission</c>): every attempt
/// (first attempts, retries, redirects, resends after a refused token) asks for a permit for its host, and every
/// permit granted gets exactly one outcome back. Behind it, <see cref="HostPolicies"/> decides (pause, window, rate,
/// breaker); this class keeps what waits: a first-in-first-out queue per host, so a paused host never holds up calls to
/// another, and one timer per host, moved only to an earlier time.
/// </summary>
/// <remarks>
/// Not an actor: it lives inside the coordinator and is called from its receive only (not thread-safe), as
/// <c>Admission</c> is. A call that waits for its host gives its global slot up (<see cref="IParkingSlots.TryPark"/>),
/// so calls waiting for a paused host never hold up calls to another; it takes a slot again before its host lets it go
/// (hosts whose next call waits for a slot are served first come, first served, before new calls start), so the calls
/// sending never exceed <c>MaxConcurrentCalls</c>. The calls waiting without a slot, for their host or in the
/// coordinator's queue, are at most <c>MaxQueuedCalls</c> (past it a waiting call keeps its slot); the wait of each is
/// bounded by its call's deadline (the RequestActor's timer).
/// </remarks>
internal sealed class HostGate
{
    private readonly HostPolicies _policies;
    private readonly HostTelemetry _telemetry;
    private readonly IActorContext _context;
    private readonly ITimerScheduler _timers;
    private readonly Dictionary<HostKey, Queue<Waiter>> _waiting = [];
    private readonly Dictionary<long, Waiter> _waiterByCall = [];
    private readonly Dictionary<long, HostTicket> _admittedByCall = [];
    private readonly Dictionary<HostKey, DateTimeOffset> _timerAt = [];
    private readonly IParkingSlots _slots;
    private readonly Queue<HostKey> _waitingForSlot = new();
    private readonly HashSet<HostKey> _inSlotQueue = [];

    public HostGate(HostPolicies policies, HostTelemetry telemetry, IActorContext context, ITimerScheduler timers, IParkingSlots slots)
    {
        _slots = slots;
        _policies = policies;
        _telemetry = telemetry;
        _context = context;
        _timers = timers;
    }

    private DateTimeOffset Now => _context.System.Scheduler.Now;

    /// <summary>A RequestActor asks to send an attempt: it joins its host's queue, and is answered when the host lets it go.</summary>
    public void Request(AttemptPermitRequest request, IActorRef requester)
    {
        var waiter = new Waiter(request.CallId, request.Host, requester);
        if (_waiterByCall.Remove(request.CallId, out var older)) StopWaiting(older);
        _waiterByCall[request.CallId] = waiter; // a newer request of the call replaces an older one (lazily dropped)
        if (!_waiting.TryGetValue(request.Host, out var queue)) _waiting[request.Host] = queue = new Queue<Waiter>();
        queue.Enqueue(waiter);
        Drain(request.Host);
        if (_waiterByCall.TryGetValue(request.CallId, out var current) && ReferenceEquals(current, waiter))
        {
            waiter.Counted = true; // not let through at once: it waits for its host
            _telemetry.Waiting(request.Host, 1);
            // ... without its global slot, so that calls to other hosts may go meanwhile.
            if (_slots.TryPark(request.CallId)) _slots.SlotsChanged();
        }
    }

    /// <summary>Global slots were freed: hosts whose next call waits for one are drained, first come, first served.</summary>
    public void SlotsFreed()
    {
        for (var n = _waitingForSlot.Count; n > 0 && _slots.HasFreeSlot && _waitingForSlot.TryDequeue(out var host); n--)
        {
            _inSlotQueue.Remove(host);
            Drain(host);
        }
    }

    /// <summary>
    /// The permit of a call's first attempt, granted as the call starts when nobody waits for its host and the host's
    /// policies admit it now; null otherwise (the call then asks with <see cref="AttemptPermitRequest"/>, as every later
    /// attempt does). It spares the common call a round trip to the coordinator and a timer (bench/RESULTS.md); the
    /// permit is the same as one granted by <see cref="Request"/>: exactly one outcome comes back for it.
    /// </summary>
    public HostTicket? TryAdmitAtOnce(long callId, HostKey host)
    {
        if (_waiting.ContainsKey(host)) return null; // others wait for this host: first come, first served
        var decision = _policies.TryAdmit(host, Now);
        if (decision.Kind != HostAdmissionKind.Admitted) return null;
        Admitted(callId, host, decision.Ticket);
        return decision.Ticket;
    }

    /// <summary>Records a granted permit (both ways of granting one come through here, so a probe is always measured).</summary>
    private void Admitted(long callId, HostKey host, HostTicket ticket)
    {
        if (ticket.IsProbe) _telemetry.ProbeAdmitted(host);
        _admittedByCall[callId] = ticket;
    }

    /// <summary>An admitted attempt ended: its outcome goes to the host's policies, and the host's queue moves on.</summary>
    public void Ended(AttemptEnded ended)
    {
        if (!_admittedByCall.TryGetValue(ended.CallId, out var ticket) || ticket != ended.Ticket) return; // already released
        _admittedByCall.Remove(ended.CallId);
        // The pause runs from when the answer arrived, not from when this coordinator reads the report: with a test's
        // virtual clock the two can differ by a whole Advance, and a pause counted from the later time outlives the retry.
        var retryAfter = ended.RetryAfter is { } named ? named - (Now - ended.At) : (TimeSpan?)null;
        if (retryAfter < TimeSpan.Zero) retryAfter = TimeSpan.Zero;
        var before = _policies.Gauges(ticket.Host);
        _policies.OnOutcome(ticket, ended.Outcome, Now, retryAfter, ended.Quota?.After(Now - ended.At));
        _telemetry.Changed(ticket.Host, before, _policies.Gauges(ticket.Host), Now);
        Drain(ticket.Host);
    }

    /// <summary>
    /// The call ended (reported, or its actor stopped): a permit it still holds is released as
    /// <see cref="HostOutcome.Ignored"/> (or its host's slot would leak), and its place in a queue is given up.
    /// </summary>
    public void CallEnded(long callId)
    {
        if (_waiterByCall.Remove(callId, out var waiter)) StopWaiting(waiter);
        if (!_admittedByCall.Remove(callId, out var ticket)) return;
        var before = _policies.Gauges(ticket.Host);
        _policies.OnOutcome(ticket, HostOutcome.Ignored, Now);
        _telemetry.Changed(ticket.Host, before, _policies.Gauges(ticket.Host), Now);
        Drain(ticket.Host);
    }

    /// <summary>The host's timer fired: its pause ended, or a rate permit or a probe is due.</summary>
    public void TimerFired(HostReady message)
    {
        _timerAt.Remove(message.Host);
        Drain(message.Host);
    }

    /// <summary>Lets the head of the host's queue go while the host's policies admit it.</summary>
    private void Drain(HostKey host)
    {
        if (!_waiting.TryGetValue(host, out var queue)) return;
        while (queue.TryPeek(out var waiter))
        {
            if (!_waiterByCall.TryGetValue(waiter.CallId, out var current) || !ReferenceEquals(current, waiter))
            {
                queue.Dequeue(); // its call ended, or asked again later
                continue;
            }
            if (_slots.IsParked(waiter.CallId) && !_slots.HasFreeSlot)
            {
                // It gave its global slot up while it waited: it needs one again before its host may let it go.
                if (_inSlotQueue.Add(host)) _waitingForSlot.Enqueue(host);
                return;
            }
            var now = Now;
            var decision = _policies.TryAdmit(host, now);
            switch (decision.Kind)
            {
                case HostAdmissionKind.Admitted:
                    _slots.TryUnpark(waiter.CallId); // a slot is free (checked above), or it never gave its own up
                    queue.Dequeue();
                    _waiterByCall.Remove(waiter.CallId);
                    StopWaiting(waiter);
                    Admitted(waiter.CallId, host, decision.Ticket);
                    waiter.Actor.Tell(new AttemptPermitGranted(decision.Ticket), _context.Self);
                    continue;
                case HostAdmissionKind.CircuitOpen:
                    queue.Dequeue();
                    _waiterByCall.Remove(waiter.CallId);
                    StopWaiting(waiter);
                    waiter.Actor.Tell(new AttemptPermitRefused(host, decision.At), _context.Self);
                    continue;
                case HostAdmissionKind.WaitUntil:
                    Arm(host, decision.At, now);
                    return;
                default: // WaitForSlot: the host's next outcome drains again
                    return;
            }
        }
        _waiting.Remove(host);
    }

    private void Arm(HostKey host, DateTimeOffset at, DateTimeOffset now)
    {
        if (_timerAt.TryGetValue(host, out var armed) && armed <= at) return;
        _timerAt[host] = at;
        var delay = at - now;
        _timers.StartSingleTimer(new HostTimerKey(host), new HostReady(host), delay > TimeSpan.Zero ? delay : TimeSpan.Zero);
    }

    private void StopWaiting(Waiter waiter)
    {
        if (!waiter.Counted) return;
        waiter.Counted = false;
        _telemetry.Waiting(waiter.Host, -1);
    }

    /// <summary>A call's place in its host's queue; <see cref="Counted"/>: it is in the waiting-calls metric.</summary>
    private sealed class Waiter(long callId, HostKey host, IActorRef actor)
    {
        public long CallId { get; } = callId;
        public HostKey Host { get; } = host;
        public IActorRef Actor { get; } = actor;
        public bool Counted { get; set; }
    }

    private sealed record HostTimerKey(HostKey Host);
}

/// <summary>
/// A RequestActor asks its coordinator for a permit to send an attempt of call <paramref name="CallId"/> to
/// <paramref name="Host"/>. <paramref name="Announce"/>: an event the coordinator publishes once the request has joined
/// its host's queue (a retry that waits for its host's pause announces itself only when that wait is set up, so that
/// whoever reacts to the event, as a test advancing virtual time, finds the host's timer armed).
/// </summary>
internal sealed record AttemptPermitRequest(long CallId, HostKey Host, object? Announce = null);

/// <summary>The attempt may go; hand <paramref name="Ticket"/> back in <see cref="AttemptEnded"/>.</summary>
internal sealed record AttemptPermitGranted(HostTicket Ticket);

/// <summary>The host's circuit is open: the call fails fast with <c>CircuitOpenException</c>; a probe may go from <paramref name="RetryAt"/>.</summary>
internal sealed record AttemptPermitRefused(HostKey Host, DateTimeOffset RetryAt);

/// <summary>
/// An admitted attempt ended with <paramref name="Outcome"/> at <paramref name="At"/> (the RequestActor's clock);
/// <paramref name="RetryAfter"/> is the server's <c>Retry-After</c>, if any, counted from <paramref name="At"/>;
/// <paramref name="Quota"/> what the response's rate-limit fields announced (<see cref="RateLimitHeaders"/>), if read.
/// </summary>
internal sealed record AttemptEnded(long CallId, HostTicket Ticket, HostOutcome Outcome, TimeSpan? RetryAfter, DateTimeOffset At, RateLimitStatus? Quota = null);

/// <summary>The timer message of a host whose queue may move (a pause ended, a permit or a probe is due).</summary>
internal sealed record HostReady(HostKey Host);
