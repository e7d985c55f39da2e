namespace Courier.Requests.Hosts;

/// <summary>
/// A send rate learned from a host's throttling, for APIs that limit requests per second: a window of calls in flight
/// cannot match a rate when answers are fast, and each 429 pauses the host for its whole <c>Retry-After</c>, so the
/// rate has to be found in few throttles. Unlimited until the first throttle. At each throttle the rate becomes
/// <c>0.9 ×</c> what the server let through (<see cref="Measure"/>), never more than <c>0.9 ×</c> the rate that was
/// refused. After the first throttle it grows by half every 100 ms until the next one (slow start: the first window
/// is the server's burst plus the client's warm-up, and says little about the rate). After a later one (steady) it
/// climbs back to what the server was measured to let through (a tenth of the gap every 100 ms), holds there for
/// <see cref="HoldTime"/> (climbing further would only find the same limit again, a <c>Retry-After</c> pause later),
/// then grows by 1 % a second (to find a limit that was raised). The first throttle within a hold is read as a moment's
/// congestion: the rate is cut to <c>0.9 ×</c> what it was and climbs back to the hold; a second is measured. A later
/// throttle that measures far less than the last estimate (the server slowed down for a moment) starts fast growth
/// again, up to <c>0.9 ×</c> the previous estimate. While a rate is learned, the calls in flight are bounded too
/// (<see cref="InFlightBound"/>), so that a server that stops answering for a moment is not sent more than its burst.
/// Pure: time is passed in; single-threaded. Like <see cref="AimdLimit"/>, one cut per window: throttles of attempts
/// admitted before the last cut say nothing new.
/// </summary>
internal sealed class AdaptiveRate
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    private const int WindowSteps = 10; // one second of successes
    private const double Backoff = 0.9;
    private const double SlowStartGrowth = 1.5;
    private const double SteadyGrowthPerSecond = 0.01;
    private const double HoldApproach = 0.1; // of the gap to the hold, every 100 ms: 65 % of it in a second

    /// <summary>
    /// How long after a steady cut the rate grows only up to what the server was measured to let through (the hold):
    /// climbing past it would only find the same limit again, one <c>Retry-After</c> pause later. After this, it grows
    /// 1 % a second again, so that a server that raised its limit is found.
    /// </summary>
    internal static readonly TimeSpan HoldTime = TimeSpan.FromSeconds(60);
    private const double FarBelow = 0.75; // an estimate under this share of the last: the server slowed down, grow fast again

    /// <summary>
    /// The burst a server is assumed to allow above its rate, in time at that rate: a token bucket starts full, so the
    /// successes of a window ending in a throttle are its burst plus its rate times the window. Counting the window this
    /// much longer keeps a short window from reading the burst as rate (a window of 150 ms after a pause read 760/s of a
    /// 500/s server with a burst of 50, and each such overestimate cost another throttle).
    /// </summary>
    internal static readonly TimeSpan BurstAllowance = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The successes per answering step (100 ms) from which a step without any is read as a stall and left out of the
    /// measurement's time: at lower rates a silent step is just the gap between calls.
    /// </summary>
    private const int StalledStepEvidence = 5;

    private readonly long[] _successes = new long[WindowSteps];
    private long _windowStep;
    private long _lastCutSequence = -1;
    private int _cuts;
    private bool _steady;
    private double _tokens;
    private DateTimeOffset _tokensAt;
    private DateTimeOffset _grownAt;
    private DateTimeOffset _activeFrom = DateTimeOffset.MinValue;
    private DateTimeOffset _cutAt;
    private DateTimeOffset _measuredFrom;
    private double _ceiling;
    private double? _lastEstimate;
    private double? _slowStartCap;
    private double? _hold;
    private DateTimeOffset _holdUntil;
    private bool _forgiven;

    /// <summary>The rate in calls per second, or null while no throttle has been seen.</summary>
    public double? Rate { get; private set; }

    /// <summary>Takes a permit at <paramref name="now"/> if the rate allows one.</summary>
    public bool TryAcquire(DateTimeOffset now)
    {
        if (_activeFrom == DateTimeOffset.MinValue) _activeFrom = now; // the first measurement starts with the first call
        if (Rate is null) return true;
        Refill(now);
        if (_tokens < 1) return false;
        _tokens--;
        return true;
    }

    /// <summary>When the next permit is due (<paramref name="now"/> when one is available).</summary>
    public DateTimeOffset NextPermitTime(DateTimeOffset now)
    {
        if (Rate is not { } rate) return now;
        Refill(now);
        if (_tokens >= 1) return now;
        // At least one tick later: a wait that rounds to zero would have the caller retry at the same instant for ever.
        return now + TimeSpan.FromTicks(Math.Max(1, (long)Math.Ceiling(Math.Min((1 - _tokens) / rate, 60) * TimeSpan.TicksPerSecond)));
    }

    /// <summary>
    /// How many attempts may be in flight to the host while a rate is learned (null while unlimited, or before the first
    /// answer's latency is known): the rate times twice the smoothed latency of its successes, plus
    /// <see cref="BurstAllowance"/>. At the rate, Little's law needs the rate times the mean latency in flight; the
    /// bound leaves twice that, and stops the client from piling more than about <see cref="BurstAllowance"/> of the
    /// rate onto a server that stalls for a moment (its requests wait in its socket and then meet its bucket at once:
    /// seen against the Sandbox, a clump of 87 after a tenth of a second with none drew 20 429s and a 1 s pause).
    /// </summary>
    public int? InFlightBound => Rate is { } rate && _latency is { } latency
        ? (int)Math.Clamp(Math.Ceiling(rate * (2 * latency + BurstAllowance.TotalSeconds)), 1, int.MaxValue)
        : null;

    private double? _latency; // seconds, smoothed as TCP smooths its round-trip time (RFC 6298: 1/8 of each new sample)
    private DateTimeOffset _heldAt = DateTimeOffset.MinValue;

    /// <summary>
    /// Another limit of the host (its announced pace, a configured rate) held back at <paramref name="now"/> a call that
    /// this rate would have let go: this rate is not what limits the sending then, so it does not grow for that step, as
    /// TCP does not grow a window it is not using (RFC 7661). Otherwise a rate held under an announced quota grew half
    /// again every 100 ms to a million calls a second: a metric far above what was sent, and no limit at all once the
    /// other one went. Climbing back to the hold is not growth and goes on.
    /// </summary>
    public void HeldByAnotherLimit(DateTimeOffset now)
    {
        if (now > _heldAt) _heldAt = now;
    }

    /// <summary>A success at <paramref name="now"/>, <paramref name="latency"/> after its attempt was admitted (when known).</summary>
    public void OnSuccess(DateTimeOffset now, TimeSpan? latency = null)
    {
        if (latency is { } sample && sample >= TimeSpan.Zero)
            _latency = _latency is { } smoothed ? smoothed + (sample.TotalSeconds - smoothed) / 8 : sample.TotalSeconds;
        if (Rate is not null && now < _activeFrom && _lastEstimate is { } measured)
        {
            // Paused after a throttle: an attempt sent before it succeeded, so the server let one more through in the
            // window that ended at the cut. Measured again over the windows that started before the cut and end now (the
            // time since the cut counts as sending time: the answers of a drain can come in a clump, long after the
            // server let them through), never above the ceiling of the cut.
            Slide(now);
            _successes[_windowStep % WindowSteps]++;
            var measure = Measure(now, _measuredFrom, _cutAt);
            var estimate = Math.Min(measure * Backoff, _ceiling);
            if (estimate > measured)
            {
                Rate = estimate;
                _lastEstimate = estimate;
            }
            if (_hold is { } hold && measure > hold) _hold = Math.Min(measure, _ceiling);
            return;
        }
        Slide(now);
        _successes[_windowStep % WindowSteps]++;
        Grow(now);
    }

    /// <summary>
    /// A throttle of the attempt admitted as <paramref name="admittedSequence"/>; <paramref name="nextSequence"/> is the
    /// next admission's number; <paramref name="resumesAt"/> is when the host's pause ends (the time not to count as
    /// sending time in the next measurement).
    /// </summary>
    public bool OnThrottled(DateTimeOffset now, long admittedSequence, long nextSequence, DateTimeOffset resumesAt)
    {
        if (admittedSequence <= _lastCutSequence)
        {
            // A throttle of the same window (an attempt still in flight at the cut) says nothing new about the rate, but its
            // Retry-After may have moved the end of the pause: nothing accrues before that either, or the host resumes
            // with a burst of permits and a slow start already grown for the time it was still paused.
            if (resumesAt > _activeFrom && Rate is not null) _activeFrom = _tokensAt = _grownAt = resumesAt;
            return false;
        }
        _lastCutSequence = nextSequence - 1;
        Slide(now);

        if (_steady && _hold is { } hold && Rate is { } prior && !_forgiven && now < _holdUntil)
        {
            // A throttle in the hold, at a rate the server let through for a whole window before: read once as a
            // moment's congestion (a clump of requests after a stall, the server busy), whose window measures the
            // stall rather than the server. The pause is honoured, the rate cut to Backoff × what it was, and it
            // climbs back to the hold. A second one within the hold means the server slowed down: it is measured.
            _forgiven = true;
            _cuts++;
            _ceiling = hold;
            Rate = _lastEstimate = Math.Max(1, prior * Backoff);
            _holdUntil = now + HoldTime;
            Paused(now, resumesAt);
            return true;
        }

        var measure = Measure(now, _activeFrom, now);
        var estimate = Math.Max(1, measure * Backoff);
        // A throttle at a learned rate means that rate was too high: never go back up to it.
        _ceiling = Rate is { } current ? current * Backoff : double.MaxValue;
        if (estimate > _ceiling) estimate = _ceiling;

        // After the first throttle, slow start: the first window was the server's burst and the client's warm-up (a
        // burst of 256 calls reaches a loopback server within 100 ms and its answers come back out of order), so it
        // says little about the rate. A later one measured a window of sending at a learned rate: steady, unless it is
        // far below the last estimate (the server slowed down for a moment), which grows fast again up to Backoff × the
        // last (TCP's slow-start threshold).
        _slowStartCap = null;
        if (_cuts++ == 0 || _lastEstimate is not { } last) _steady = false;
        else if (estimate >= last * FarBelow) _steady = true;
        else
        {
            _steady = false;
            _slowStartCap = last * Backoff;
        }
        // A steady cut measured a window of sending at the limit: the rate climbs back to that measurement and holds there
        // (HoldTime), rather than finding the limit again with another throttle and its pause.
        _hold = _steady ? Math.Max(estimate, Math.Min(measure, _ceiling)) : null;
        _holdUntil = now + HoldTime;
        _forgiven = false;
        _lastEstimate = estimate;
        Rate = estimate;
        Paused(now, resumesAt);
        return true;
    }

    private void Paused(DateTimeOffset now, DateTimeOffset resumesAt)
    {
        // Successes still arriving during the pause were let through before the throttle: they refine this measurement.
        _cutAt = now;
        _measuredFrom = _activeFrom;
        // Neither tokens nor growth accrue while the host is paused: the rate starts from the estimate when it resumes.
        _activeFrom = resumesAt > now ? resumesAt : now;
        _tokens = 0;
        _tokensAt = _activeFrom;
        _grownAt = _activeFrom;
    }

    /// <summary>
    /// What the server let through per second in the window that ends at <paramref name="end"/> and starts no earlier
    /// than <paramref name="sendingFrom"/> (the end of the last pause): the most, over the windows of the last second that
    /// start at a step boundary no later than <paramref name="latestStart"/>, of their successes over their length plus
    /// <see cref="BurstAllowance"/>. A window in
    /// which the server was saturated measures its rate; one that also holds a ramp-up from a low rate would
    /// underestimate it (a slow start reaches the limit in its last 100 to 300 ms).
    /// </summary>
    private double Measure(DateTimeOffset end, DateTimeOffset sendingFrom, DateTimeOffset latestStart)
    {
        var endStep = end.UtcTicks / Step.Ticks;
        var latestStep = latestStart.UtcTicks / Step.Ticks;
        var best = 0.0;
        var successes = 0L;
        var silent = 0; // whole steps of the window without a success
        var answering = 0; // steps with one or more
        for (var step = endStep; step > endStep - WindowSteps && step > _windowStep - WindowSteps; step--)
        {
            var count = step <= _windowStep ? _successes[step % WindowSteps] : 0;
            successes += count;
            var from = new DateTimeOffset(step * Step.Ticks, TimeSpan.Zero);
            if (from < sendingFrom) from = sendingFrom;
            if (count > 0) answering++;
            else if (step < endStep && from.UtcTicks == step * Step.Ticks) silent++;
            // A server that limits the rate answers 429 beyond it; it does not go silent for 100 ms while the other steps
            // see several successes each: such a step is a stall of the client's process (or of the way to the server),
            // not sending time, and counted as such it read 43/s for a 500/s server after a 700 ms stall.
            var stalled = answering > 0 && successes >= StalledStepEvidence * answering ? silent : 0;
            var seconds = Math.Max(0, (end - from).TotalSeconds - stalled * Step.TotalSeconds) + BurstAllowance.TotalSeconds;
            if (step <= latestStep) best = Math.Max(best, successes / seconds);
            if (from == sendingFrom) break; // the window reaches back to the end of the last pause
        }
        return best;
    }

    private void Refill(DateTimeOffset now)
    {
        Grow(now);
        if (now > _tokensAt)
        {
            // A burst of at most 100 ms of the rate (at least one call), as a configured rate's default burst: the wait for
            // the next permit is a scheduler timer, which fires tens of ms late on a loaded machine, and with a smaller
            // bucket the permits of that delay are lost (measured: 20 ms held a learned 450/s to about 260/s).
            _tokens = Math.Min(Math.Max(1, Rate!.Value * 0.1), _tokens + (now - _tokensAt).TotalSeconds * Rate.Value);
            _tokensAt = now;
        }
    }

    private void Grow(DateTimeOffset now)
    {
        if (Rate is not { } rate || now < _grownAt + Step) return;
        if (_steady && _hold is { } hold)
        {
            // Back up to the measurement, no further, until the hold ends; then on at the steady pace from its end (no
            // growth is owed for the time held).
            var held = ((now < _holdUntil ? now : _holdUntil) - _grownAt).Ticks / Step.Ticks;
            if (held > 0)
            {
                _grownAt += Step * held;
                Rate = rate = Math.Max(rate, hold - (hold - rate) * Math.Pow(1 - HoldApproach, Math.Min(held, 1000)));
            }
            if (now < _holdUntil) return;
            _hold = null;
            if (_grownAt < _holdUntil) _grownAt = _holdUntil;
            if (now < _grownAt + Step) return;
        }
        var steps = (now - _grownAt).Ticks / Step.Ticks;
        var lastGrown = _grownAt;
        _grownAt += Step * steps;
        if (_heldAt >= lastGrown) return; // another limit held calls back since the last step: this rate was not the limit
        Rate = _steady
            ? rate * (1 + SteadyGrowthPerSecond * steps / 10.0)
            : Math.Min(1e6, rate * Math.Pow(SlowStartGrowth, Math.Min(steps, 40)));
        if (!_steady && _slowStartCap is { } cap && Rate >= cap)
        {
            Rate = Math.Max(rate, cap);
            _steady = true;
        }
    }

    private void Slide(DateTimeOffset now)
    {
        var step = now.UtcTicks / Step.Ticks;
        if (step <= _windowStep) return;
        for (var s = _windowStep + 1; s <= Math.Min(step, _windowStep + WindowSteps); s++) _successes[s % WindowSteps] = 0;
        _windowStep = step;
    }
}
