namespace Courier.Requests.Hosts;

/// <summary>
/// One host's client-side rate limit: a token bucket of <c>burst</c> tokens that gains one token per
/// <see cref="RateLimit.Interval"/>, stepped by the time the caller passes in (the actor system scheduler's <c>Now</c>).
/// <para>Why not <c>System.Threading.RateLimiting.TokenBucketRateLimiter</c>: even with <c>AutoReplenishment = false</c>,
/// its <c>TryReplenish</c> adds tokens for the <c>Stopwatch</c> time elapsed since the last call (dotnet/runtime
/// TokenBucketRateLimiter.ReplenishInternal), so it cannot be driven by the scheduler and TestScheduler tests could not
/// step it. This is the same algorithm (whole tokens, capped at the burst, no queue) with the clock passed in.</para>
/// Single-threaded: the caller owns it.
/// </summary>
internal sealed class HostRateLimiter
{
    private readonly TimeSpan _interval;
    private readonly int _burst;
    private int _tokens;
    private DateTimeOffset _replenishedUpTo;

    /// <param name="rate">The rate: one token per <see cref="RateLimit.Interval"/>.</param>
    /// <param name="burst">The most tokens the bucket holds.</param>
    /// <param name="now">The time the bucket starts at.</param>
    /// <param name="startEmpty">Start with no token instead of a full bucket (a rate learned after calls already went).</param>
    public HostRateLimiter(RateLimit rate, int burst, DateTimeOffset now, bool startEmpty = false)
    {
        ArgumentNullException.ThrowIfNull(rate);
        ArgumentOutOfRangeException.ThrowIfLessThan(burst, 1);
        _interval = rate.Interval;
        _burst = burst;
        _tokens = startEmpty ? 0 : burst;
        _replenishedUpTo = now;
    }

    /// <summary>Takes a token if one is available at <paramref name="now"/>.</summary>
    public bool TryAcquire(DateTimeOffset now)
    {
        Replenish(now);
        if (_tokens == 0) return false;
        _tokens--;
        return true;
    }

    /// <summary>The earliest time a token is available (<paramref name="now"/> when one is).</summary>
    public DateTimeOffset NextPermitTime(DateTimeOffset now)
    {
        Replenish(now);
        return _tokens > 0 ? now : _replenishedUpTo + _interval;
    }

    private void Replenish(DateTimeOffset now)
    {
        if (now < _replenishedUpTo + _interval) return;
        var intervals = (now - _replenishedUpTo).Ticks / _interval.Ticks;
        _replenishedUpTo += TimeSpan.FromTicks(_interval.Ticks * intervals);
        _tokens = (int)Math.Min(_burst, _tokens + intervals);
        // A full bucket does not bank time: the next token comes one interval after the bucket has room again.
        if (_tokens == _burst) _replenishedUpTo = now;
    }
}
