namespace Courier.Requests.Hosts;

/// <summary>
/// Per-host politeness (configuration section <c>Courier:Hosts</c>): a host that asks to wait is paused for every call
/// to it, an adaptive (AIMD) window of calls in flight per host, an optional client-side rate per host and an optional
/// circuit breaker per host. A host is a scheme and an authority (<c>https://api.example.com:443</c>).
/// </summary>
public sealed class HostPolicyOptions
{
    /// <summary>
    /// Pause a host for all calls when it answers 429, or 503 with <c>Retry-After</c>, until the time it named
    /// (capped at <c>Retry:MaxRetryAfter</c>), instead of only delaying the call that got the answer.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool PauseOnRetryAfter { get; set; } = HostPolicyDefaults.PauseOnRetryAfter;

    /// <summary>The most calls in flight to one host; the adaptive window moves within [1, this].</summary>
    /// <value>The default value is <see langword="null"/>, meaning <c>MaxConcurrentCalls</c>. At least 1.</value>
    public int? MaxConcurrencyPerHost { get; set; }

    /// <summary>
    /// Adapt each host's window (AIMD): start at <see cref="MaxConcurrencyPerHost"/>, multiply it by
    /// <see cref="BackoffRatio"/> on 429, 503 and timeouts, add one on success. Off: the window stays at the cap.
    /// </summary>
    /// <value>The default value is <see langword="false"/> (the <c>batch</c> command turns it on).</value>
    public bool AdaptiveConcurrency { get; set; } = HostPolicyDefaults.AdaptiveConcurrency;

    /// <summary>The factor a host's window is multiplied by on a drop (at most once per window).</summary>
    /// <value>The default value is 0.9 (Netflix concurrency-limits' AIMDLimit). Range: greater than 0, less than 1.</value>
    public double BackoffRatio { get; set; } = HostPolicyDefaults.BackoffRatio;

    /// <summary>
    /// Learn each host's rate from its throttling: unlimited until a 429 (or 503 with
    /// <c>Retry-After</c>), then 0.9 × what the server let through (the best window of the last second, counted 100 ms
    /// longer for the server's burst), grown quickly until the next throttle and slowly after it. For APIs that limit
    /// requests per second, where a window of calls in flight cannot match the limit.
    /// </summary>
    /// <value>The default value is <see langword="false"/> (the <c>batch</c> command turns it on).</value>
    public bool AdaptiveRate { get; set; } = HostPolicyDefaults.AdaptiveRate;

    /// <summary>
    /// Read the quota a host announces in its responses (the IETF <c>RateLimit</c> and <c>RateLimit-Policy</c> fields,
    /// their older <c>RateLimit-Limit/-Remaining/-Reset</c> form, and <c>X-RateLimit-*</c>) on every answer: a response
    /// that says nothing remains pauses the host until the quota resets (capped at <c>Retry:MaxRetryAfter</c>; not a
    /// throttle: no window cut, no breaker count, no budget), and a policy with a window of at most 10 s paces the host at
    /// 0.9 × its quota per window. <c>Retry-After</c> takes precedence over a reset, as the draft says.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool UseRateLimitHeaders { get; set; } = HostPolicyDefaults.UseRateLimitHeaders;

    /// <summary>A client-side rate per host, such as <c>200/s</c> (see <see cref="Hosts.RateLimit"/> for the forms).</summary>
    /// <value>The default value is <see langword="null"/>: no rate limit.</value>
    public string? RateLimit { get; set; }

    /// <summary>How many calls may go at once after a quiet spell under <see cref="RateLimit"/>.</summary>
    /// <value>The default value is <see langword="null"/>, meaning a tenth of a second's permits (at least 1).</value>
    public int? RateLimitBurst { get; set; }

    /// <summary>Consecutive failures (5xx, 408, timeouts, transport errors) of a host that open its circuit; 0 turns the breaker off.</summary>
    /// <value>The default value is 0 (off). Range 0..10,000.</value>
    public int CircuitBreakerFailures { get; set; } = HostPolicyDefaults.CircuitBreakerFailures;

    /// <summary>How long an open circuit fails calls fast before it lets one probe through.</summary>
    /// <value>The default value is 5 s. Must be positive.</value>
    public TimeSpan CircuitBreakDuration { get; set; } = HostPolicyDefaults.CircuitBreakDuration;

    /// <summary>The most hosts whose state is kept; idle hosts (nothing in flight, not paused, circuit closed) are forgotten beyond it.</summary>
    /// <value>The default value is 1,024. At least 1.</value>
    public int MaxTrackedHosts { get; set; } = HostPolicyDefaults.MaxTrackedHosts;

    /// <summary>The parsed <see cref="RateLimit"/>, or null.</summary>
    internal RateLimit? ParsedRateLimit => RateLimit is null ? null : Hosts.RateLimit.Parse(RateLimit);

    /// <summary>Checks every value; the messages name the configuration key.</summary>
    public void Validate()
    {
        if (MaxConcurrencyPerHost is < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrencyPerHost), MaxConcurrencyPerHost, "Hosts:MaxConcurrencyPerHost must be at least 1.");
        if (BackoffRatio is <= 0 or >= 1 || double.IsNaN(BackoffRatio)) throw new ArgumentOutOfRangeException(nameof(BackoffRatio), BackoffRatio, "Hosts:BackoffRatio must be greater than 0 and less than 1.");
        if (RateLimit is not null && !Hosts.RateLimit.TryParse(RateLimit, out _))
            throw new ArgumentException($"Hosts:RateLimit '{RateLimit}' is not a rate: expected N/unit such as 200/s, 30/min, 5/100ms or 1000/h.", nameof(RateLimit));
        if (RateLimitBurst is < 1) throw new ArgumentOutOfRangeException(nameof(RateLimitBurst), RateLimitBurst, "Hosts:RateLimitBurst must be at least 1.");
        if (CircuitBreakerFailures is < 0 or > 10_000) throw new ArgumentOutOfRangeException(nameof(CircuitBreakerFailures), CircuitBreakerFailures, "Hosts:CircuitBreakerFailures must be between 0 and 10000.");
        if (CircuitBreakDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CircuitBreakDuration), CircuitBreakDuration, "Hosts:CircuitBreakDuration must be positive.");
        if (MaxTrackedHosts < 1) throw new ArgumentOutOfRangeException(nameof(MaxTrackedHosts), MaxTrackedHosts, "Hosts:MaxTrackedHosts must be at least 1.");
    }
}

/// <summary>The defaults of <see cref="HostPolicyOptions"/>, in one place.</summary>
internal static class HostPolicyDefaults
{
    public const bool PauseOnRetryAfter = true;
    public const bool AdaptiveConcurrency = false;
    public const bool AdaptiveRate = false;
    public const bool UseRateLimitHeaders = true;
    public const double BackoffRatio = 0.9;
    public const int CircuitBreakerFailures = 0;
    public static readonly TimeSpan CircuitBreakDuration = TimeSpan.FromSeconds(5);
    public const int MaxTrackedHosts = 1024;

    /// <summary>The burst when none is configured: a tenth of a second's permits, at least 1.</summary>
    public static int Burst(RateLimit rate) =>
        (int)Math.Clamp(rate.Permits * (TimeSpan.FromMilliseconds(100).Ticks / (double)rate.Per.Ticks), 1, rate.Permits);
}
