namespace Courier.Requests.Hosts;

/// <summary>
/// A send rate learned from a host's throttling, for APIs that limit requests per second: a window of calls in flight
/// cannot match a rate when answers are fast, and each 429 pauses the host for its whole <c>Retry-After</c>, so the
/// rate has to be found in few throttles. Unlimited until the first throttle; then the rate is <c>0.9 ×</c> the
/// successes of the last second (what the server let through), grown by half every 100 ms until the next throttle
/// (slow start: find the limit fast), and after that by 1 % a second (stay just under it). Pure: time is passed in;
/// single-threaded. Like <see cref="AimdLimit"/>, one cut per window: throttles of attempts admitted before the last
/// cut say nothing new.
/// </summary>
internal sealed class AdaptiveRate
{
    private static readonly TimeSpan Step = TimeSpan.FromMilliseconds(100);
    private const int WindowSteps = 10; // one second of successes
    private const double Backoff = 0.9;
    private const double SlowStartGrowth = 1.5;
    private const double SteadyGrowthPerSecond = 0.01;
    private const int TrustedSuccesses = 32; // a measurement of this many successes is not a fluke: no slow start after it

    private readonly long[] _successes = new long[WindowSteps];
    private long _windowStep;
    private long _lastCutSequence = -1;
    private bool _steady;
    private double _tokens;
    private DateTimeOffset _tokensAt;
    private DateTimeOffset _grownAt;
    private DateTimeOffset _activeFrom = DateTimeOffset.MinValue;
    private double? _lastEstimate;
    private long _measuredSuccesses;
    private DateTimeOffset _measuredFrom;
    private double? _slowStartCap;

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

    /// <summary>A success at <paramref name="now"/>.</summary>
    public void OnSuccess(DateTimeOffset now)
    {
        if (Rate is not null && now < _activeFrom && _lastEstimate is { } measured)
        {
            // Paused after a throttle: an attempt sent before it succeeded, so the server let one more through.
            var seconds = Math.Max((now - _measuredFrom).TotalSeconds, Step.TotalSeconds);
            var estimate = Math.Max(measured, ++_measuredSuccesses / seconds * Backoff);
            if (estimate > measured)
            {
                Rate = Rate.Value * estimate / measured;
                _lastEstimate = estimate;
            }
            if (_measuredSuccesses >= TrustedSuccesses && _slowStartCap is null) _steady = true;
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

        // What the server let through per second of sending: the successes of the last second, but not of a pause.
        var from = now - TimeSpan.FromTicks(Step.Ticks * WindowSteps);
        if (_activeFrom > from) from = _activeFrom;
        var elapsed = Math.Max((now - from).TotalSeconds, Step.TotalSeconds);
        var firstStep = from.UtcTicks / Step.Ticks;
        var successes = 0L;
        for (var step = Math.Max(firstStep, _windowStep - WindowSteps + 1); step <= _windowStep; step++) successes += _successes[step % WindowSteps];
        var estimate = Math.Max(1, successes / elapsed * Backoff);
        // A throttle at a learned rate means that rate was too high: never go back up to it.
        if (Rate is { } current && estimate > current * Backoff) estimate = current * Backoff;

        // Steady (slow growth) when this estimate agrees with the last within a quarter, or when it is the first and rests
        // on TrustedSuccesses. One far below the last (the server slowed down for a moment) grows fast again, up to
        // Backoff × the last (TCP's slow-start threshold); one far above it, or a first on few successes, grows fast
        // until the next throttle.
        _slowStartCap = null;
        if (_lastEstimate is not { } last) _steady = successes >= TrustedSuccesses;
        else if (Math.Abs(estimate - last) <= 0.25 * estimate) _steady = true;
        else
        {
            _steady = false;
            if (estimate < last) _slowStartCap = last * Backoff;
        }
        _lastEstimate = estimate;
        Rate = estimate;
        // Successes still arriving during the pause were sent before the throttle: they refine this measurement.
        _measuredSuccesses = successes;
        _measuredFrom = from;
        // Neither tokens nor growth accrue while the host is paused: the rate starts from the estimate when it resumes.
        _activeFrom = resumesAt > now ? resumesAt : now;
        _tokens = 0;
        _tokensAt = _activeFrom;
        _grownAt = _activeFrom;
        return true;
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
        var steps = (now - _grownAt).Ticks / Step.Ticks;
        _grownAt += Step * steps;
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
