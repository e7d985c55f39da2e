namespace Courier.Requests;

/// <summary>
/// The pure delay calculation behind every retry: no clock, no shared state, randomness injected.
/// </summary>
public static class Backoff
{
    /// <summary>
    /// The delay before retry number <paramref name="retry"/> (0 for the first retry):
    /// <c>min(baseDelay · factor^retry, maxDelay)</c>, then randomised by <paramref name="jitter"/>.
    /// </summary>
    /// <param name="retry">Zero-based retry number.</param>
    /// <param name="baseDelay">Delay before the first retry.</param>
    /// <param name="factor">Growth factor, at least 1.</param>
    /// <param name="maxDelay">Cap on the exponential part.</param>
    /// <param name="jitter">Jitter mode.</param>
    /// <param name="maxJitter">Largest additive jitter (only for <see cref="JitterMode.Additive"/>).</param>
    /// <param name="random">A value in [0, 1); values outside are clamped.</param>
    public static TimeSpan Compute(int retry, TimeSpan baseDelay, double factor, TimeSpan maxDelay,
        JitterMode jitter, TimeSpan maxJitter, double random)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(retry);
        random = double.IsNaN(random) ? 0 : Math.Clamp(random, 0, 1);

        // Grow in double ticks and clamp before converting back: factor^retry overflows TimeSpan long before
        // it overflows a double, and the cap makes anything past it irrelevant anyway.
        var exponential = baseDelay.Ticks * Math.Pow(factor, retry);
        var capped = TimeSpan.FromTicks((long)Math.Min(exponential, maxDelay.Ticks));

        return jitter switch
        {
            JitterMode.None => capped,
            JitterMode.Additive => capped + TimeSpan.FromTicks((long)(maxJitter.Ticks * random)),
            JitterMode.Full => TimeSpan.FromTicks((long)(capped.Ticks * random)),
            JitterMode.Equal => TimeSpan.FromTicks(capped.Ticks / 2 + (long)(capped.Ticks / 2 * random)),
            _ => throw new ArgumentOutOfRangeException(nameof(jitter), jitter, "Unknown jitter mode."),
        };
    }

    /// <summary>The delay before retry number <paramref name="retry"/> under <paramref name="options"/>.</summary>
    public static TimeSpan Compute(int retry, RetryOptions options, double random) =>
        Compute(retry, options.BaseDelay, options.BackoffFactor, options.MaxDelay, options.Jitter, options.MaxJitter, random);
}
