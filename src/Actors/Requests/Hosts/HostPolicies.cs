namespace Courier.Requests.Hosts;

/// <summary>
/// The per-host politeness table of one runtime: for each host, a pause named by <c>Retry-After</c> (or by an announced
/// quota that ran out), an AIMD window of calls in flight, an optional rate limiter, a pace announced by the host
/// (<see cref="AnnouncedQuota"/>) and an optional circuit breaker. Owned by ONE actor (the request
/// coordinator), so it has no locks; time is always passed in (the scheduler's <c>Now</c>), never read from a clock.
/// <para>Protocol: <see cref="TryAdmit"/> before sending an attempt; for an admitted attempt, exactly one
/// <see cref="OnOutcome"/> with the ticket when it ends (<see cref="HostOutcome.Ignored"/> if it was cancelled); a call
/// told to wait is kept queued and tried again at <see cref="NextAdmissionTime"/> or after the next outcome of its host.</para>
/// </summary>
internal sealed class HostPolicies
{
    private readonly Dictionary<HostKey, HostState> _hosts = [];
    private readonly bool _pauseOnRetryAfter;
    private readonly bool _adaptive;
    private readonly bool _adaptiveRate;
    private readonly bool _useRateLimitHeaders;
    private readonly int _cap;
    private readonly double _backoffRatio;
    private readonly RateLimit? _rate;
    private readonly int _burst;
    private readonly int _breakerFailures;
    private readonly TimeSpan _breakDuration;
    private readonly int _maxTrackedHosts;
    private readonly TimeSpan _maxPause;

    /// <param name="options">Copied here: a running table never sees a change.</param>
    /// <param name="maxConcurrentCalls">The runtime's cap, the per-host cap when <see cref="HostPolicyOptions.MaxConcurrencyPerHost"/> is not set.</param>
    /// <param name="maxRetryAfter">The longest pause a host can impose (<c>Retry:MaxRetryAfter</c>).</param>
    public HostPolicies(HostPolicyOptions options, int maxConcurrentCalls, TimeSpan maxRetryAfter)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(maxConcurrentCalls, 1);
        _pauseOnRetryAfter = options.PauseOnRetryAfter;
        _adaptive = options.AdaptiveConcurrency;
        _adaptiveRate = options.AdaptiveRate;
        _useRateLimitHeaders = options.UseRateLimitHeaders;
        _cap = options.MaxConcurrencyPerHost ?? maxConcurrentCalls;
        _backoffRatio = options.BackoffRatio;
        _rate = options.ParsedRateLimit;
        _burst = _rate is null ? 0 : options.RateLimitBurst ?? HostPolicyDefaults.Burst(_rate);
        _breakerFailures = options.CircuitBreakerFailures;
        _breakDuration = options.CircuitBreakDuration;
        _maxTrackedHosts = options.MaxTrackedHosts;
        _maxPause = maxRetryAfter;
    }

    /// <summary>Asks whether an attempt to <paramref name="host"/> may go at <paramref name="now"/>; an admitted one is counted in flight.</summary>
    public HostAdmission TryAdmit(HostKey host, DateTimeOffset now)
    {
        var state = GetOrAdd(host, now);
        if (now < state.PausedUntil) return HostAdmission.WaitUntil(state.PausedUntil);
        if (state.Breaker is { } breaker)
        {
            if (breaker.State == CircuitState.HalfOpen) return HostAdmission.CircuitOpen(now + _breakDuration);
            if (breaker.State == CircuitState.Open && now < breaker.OpenUntil) return HostAdmission.CircuitOpen(breaker.OpenUntil);
        }
        if (state.InFlight >= state.Limit || state.InFlight >= state.Learned?.InFlightBound) return HostAdmission.WaitForSlot;
        // Every rate is asked before any permit is taken: a call one of them holds back must not spend another's.
        if (state.Rate?.NextPermitTime(now) is { } ratePermit && ratePermit > now) return HeldByAnotherLimit(state, now, ratePermit);
        if (state.Learned?.NextPermitTime(now) is { } learnedPermit && learnedPermit > now) return HostAdmission.WaitUntil(learnedPermit);
        if (state.Announced?.NextPermitTime(now) is { } pacePermit && pacePermit > now) return HeldByAnotherLimit(state, now, pacePermit);
        state.Rate?.TryAcquire(now);
        state.Learned?.TryAcquire(now);
        state.Announced?.TryAcquire(now);

        var isProbe = false;
        state.Breaker?.TryPass(now, out isProbe); // cannot refuse: checked above
        state.InFlight++;
        return HostAdmission.Admitted(new HostTicket(host, state.NextSequence++, isProbe, now));
    }

    /// <summary>
    /// A call waits until <paramref name="at"/> for the configured rate or the announced pace; when the learned rate would
    /// have let it go, that rate is told, so that it does not grow while it is not what limits the host.
    /// </summary>
    private static HostAdmission HeldByAnotherLimit(HostState state, DateTimeOffset now, DateTimeOffset at)
    {
        if (state.Learned is { } learned && learned.NextPermitTime(now) <= now) learned.HeldByAnotherLimit(now);
        return HostAdmission.WaitUntil(at);
    }

    /// <summary>
    /// The end of an admitted attempt. <paramref name="retryAfter"/> is the server's <c>Retry-After</c>, if any; with
    /// <see cref="HostOutcome.Throttled"/> it pauses the host until <paramref name="now"/> + it (capped at
    /// <c>Retry:MaxRetryAfter</c>). <paramref name="quota"/> is what the response's rate-limit fields announced, if any
    /// (read with <c>Hosts:UseRateLimitHeaders</c>): see <see cref="AnnouncedQuota"/>.
    /// </summary>
    public void OnOutcome(HostTicket ticket, HostOutcome outcome, DateTimeOffset now, TimeSpan? retryAfter = null, RateLimitStatus? quota = null)
    {
        if (!_hosts.TryGetValue(ticket.Host, out var state)) return; // cannot happen while in flight; be lenient
        if (_useRateLimitHeaders && quota is { } announced)
        {
            // Before the outcome: a throttle's learned rate stops accruing until the end of the pause, whichever named it.
            if (AnnouncedQuota.PauseUntil(announced, now, _maxPause, hasRetryAfter: retryAfter is not null) is { } until && until > state.PausedUntil)
                state.PausedUntil = until;
            if (announced.Quota is not null) (state.Announced ??= new AnnouncedQuota()).Update(announced, now);
        }
        var inFlight = state.InFlight;
        state.InFlight = Math.Max(0, state.InFlight - 1);
        switch (outcome)
        {
            case HostOutcome.Success:
                state.Aimd?.OnSuccess(inFlight);
                state.Learned?.OnSuccess(now, ticket.AdmittedAt == default ? null : now - ticket.AdmittedAt);
                state.Breaker?.OnSuccess();
                break;
            case HostOutcome.Throttled:
                if (_pauseOnRetryAfter && retryAfter is { } wait && wait > TimeSpan.Zero)
                {
                    var until = now + (wait > _maxPause ? _maxPause : wait);
                    if (until > state.PausedUntil) state.PausedUntil = until;
                }
                state.Aimd?.OnDrop(ticket.Sequence, state.NextSequence);
                state.Learned?.OnThrottled(now, ticket.Sequence, state.NextSequence, state.PausedUntil);
                state.Breaker?.OnSuccess(); // the host is alive and answering: throttling is not an outage
                break;
            case HostOutcome.Failed:
                state.Aimd?.OnDrop(ticket.Sequence, state.NextSequence);
                state.Breaker?.OnFailure(now, ticket.IsProbe);
                break;
            case HostOutcome.Ignored:
                if (ticket.IsProbe) state.Breaker?.OnProbeAbandoned(now);
                break;
        }
    }

    /// <summary>
    /// When a call to <paramref name="host"/> may next be admitted: <paramref name="now"/> if it may go now, a later
    /// time when it waits for a pause, a permit or an open circuit to pass, or null when it waits for a call of that
    /// host to end (then try again after that host's next <see cref="OnOutcome"/>).
    /// </summary>
    public DateTimeOffset? NextAdmissionTime(HostKey host, DateTimeOffset now)
    {
        if (!_hosts.TryGetValue(host, out var state)) return now;
        var at = now;
        if (state.PausedUntil > at) at = state.PausedUntil;
        if (state.Breaker is { State: CircuitState.Open } breaker && breaker.OpenUntil > at) at = breaker.OpenUntil;
        if (state.Breaker is { State: CircuitState.HalfOpen }) return null; // the probe's outcome decides
        if (state.InFlight >= state.Limit || state.InFlight >= state.Learned?.InFlightBound) return null;
        if (state.Rate is { } rate)
        {
            var permit = rate.NextPermitTime(now);
            if (permit > at) at = permit;
        }
        if (state.Learned is { } learned)
        {
            var permit = learned.NextPermitTime(now);
            if (permit > at) at = permit;
        }
        if (state.Announced is { } announced)
        {
            var permit = announced.NextPermitTime(now);
            if (permit > at) at = permit;
        }
        return at;
    }

    /// <summary>What the table holds for <paramref name="host"/> (for metrics and tests), or null for an unknown host.</summary>
    public HostSnapshot? Snapshot(HostKey host) => _hosts.TryGetValue(host, out var s)
        ? new HostSnapshot(s.Limit, s.InFlight, s.PausedUntil, s.Breaker?.State ?? CircuitState.Closed, s.Learned?.Rate, s.Announced?.Rate)
        : null;

    /// <summary>The values the host metrics follow, without an allocation (default for an unknown host).</summary>
    public HostGauges Gauges(HostKey host) => _hosts.TryGetValue(host, out var s)
        ? new HostGauges(s.Limit, s.PausedUntil, s.Breaker?.State ?? CircuitState.Closed, s.Learned?.Rate)
        : new HostGauges(_cap, DateTimeOffset.MinValue, CircuitState.Closed, null);

    /// <summary>How many hosts have state.</summary>
    public int Count => _hosts.Count;

    private HostState GetOrAdd(HostKey host, DateTimeOffset now)
    {
        if (_hosts.TryGetValue(host, out var state)) return state;
        if (_hosts.Count >= _maxTrackedHosts) ForgetIdle(now);
        state = new HostState(
            _adaptive ? new AimdLimit(_cap, _backoffRatio) : null,
            _cap,
            _rate is null ? null : new HostRateLimiter(_rate, _burst, now),
            _breakerFailures > 0 ? new CircuitBreaker(_breakerFailures, _breakDuration) : null,
            _adaptiveRate ? new AdaptiveRate() : null);
        _hosts.Add(host, state);
        return state;
    }

    private void ForgetIdle(DateTimeOffset now)
    {
        // Rare (only past MaxTrackedHosts), so a sweep is fine. A forgotten host starts afresh: window at the cap,
        // full bucket; only hosts with nothing to remember are dropped.
        foreach (var (key, state) in _hosts.ToArray())
        {
            if (state.InFlight == 0 && state.PausedUntil <= now && state.Breaker is null or { State: CircuitState.Closed })
            {
                _hosts.Remove(key);
            }
        }
    }

    private sealed class HostState(AimdLimit? aimd, int cap, HostRateLimiter? rate, CircuitBreaker? breaker, AdaptiveRate? learned)
    {
        public AdaptiveRate? Learned { get; } = learned;
        public AimdLimit? Aimd { get; } = aimd;
        public HostRateLimiter? Rate { get; } = rate;
        public CircuitBreaker? Breaker { get; } = breaker;
        public int Limit => Aimd?.Limit ?? cap;
        public int InFlight { get; set; }
        public long NextSequence { get; set; }
        public DateTimeOffset PausedUntil { get; set; } = DateTimeOffset.MinValue;
        public AnnouncedQuota? Announced { get; set; }
    }
}

/// <summary>An admitted attempt: hand it back to <see cref="HostPolicies.OnOutcome"/> when the attempt ends.</summary>
internal readonly record struct HostTicket(HostKey Host, long Sequence, bool IsProbe, DateTimeOffset AdmittedAt = default);

/// <summary>What <see cref="HostPolicies.TryAdmit"/> decided.</summary>
internal enum HostAdmissionKind
{
    /// <summary>Send it; the ticket is counted in flight.</summary>
    Admitted,
    /// <summary>Keep it queued until <see cref="HostAdmission.At"/> (a pause or the next rate permit).</summary>
    WaitUntil,
    /// <summary>Keep it queued until a call to the same host ends (the host's window is full).</summary>
    WaitForSlot,
    /// <summary>Fail it fast with <c>CircuitOpenException</c>; a probe may go from <see cref="HostAdmission.At"/>.</summary>
    CircuitOpen,
}

/// <summary>The decision of <see cref="HostPolicies.TryAdmit"/>.</summary>
internal readonly record struct HostAdmission(HostAdmissionKind Kind, HostTicket Ticket, DateTimeOffset At)
{
    public static HostAdmission Admitted(HostTicket ticket) => new(HostAdmissionKind.Admitted, ticket, default);
    public static HostAdmission WaitUntil(DateTimeOffset at) => new(HostAdmissionKind.WaitUntil, default, at);
    public static readonly HostAdmission WaitForSlot = new(HostAdmissionKind.WaitForSlot, default, default);
    public static HostAdmission CircuitOpen(DateTimeOffset retryAt) => new(HostAdmissionKind.CircuitOpen, default, retryAt);
}

/// <summary>What the host metrics follow: the window, the end of the pause, the circuit, the learned rate (calls/s, null while unlimited).</summary>
internal readonly record struct HostGauges(int Limit, DateTimeOffset PausedUntil, CircuitState Circuit, double? LearnedRate);

/// <summary>
/// One host's state, for metrics and tests; <paramref name="LearnedRate"/> is the adaptive rate (calls/s), null while
/// unlimited; <paramref name="AnnouncedRate"/> the pace taken from the host's announced policy (calls/s), null without one.
/// </summary>
internal sealed record HostSnapshot(int Limit, int InFlight, DateTimeOffset PausedUntil, CircuitState Circuit, double? LearnedRate = null, double? AnnouncedRate = null);
