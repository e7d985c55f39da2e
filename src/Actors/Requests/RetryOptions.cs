namespace Courier.Requests;

/// <summary>How the delay between attempts is randomised.</summary>
public enum JitterMode
{
    /// <summary>No randomness: the delay is exactly the capped exponential value.</summary>
    None,

    /// <summary>
    /// A random 0..<see cref="RetryOptions.MaxJitter"/> is added to the capped exponential delay
    /// (the axios clients' <c>min(base · 2^n, cap) + random · 100 ms</c>). The default.
    /// </summary>
    Additive,

    /// <summary>"Full jitter": a random delay between zero and the capped exponential delay.</summary>
    Full,

    /// <summary>"Equal jitter": half the capped exponential delay plus a random part of the other half.</summary>
    Equal,
}

/// <summary>
/// Retry policy of the request path. Every value is copied when the runtime starts, so a running call
/// never sees a change. Bind it from configuration (section <c>Courier:Retry</c>) or set it in code.
/// </summary>
public sealed class RetryOptions
{
    /// <summary>How many times a failed call is retried (so at most <c>MaxRetries + 1</c> attempts).</summary>
    /// <value>The default value is 2. Range 0..100.</value>
    public int MaxRetries { get; set; } = 2;

    /// <summary>The delay before the first retry, before jitter.</summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan BaseDelay { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The factor the delay grows by with every retry.</summary>
    /// <value>The default value is 2. Must be at least 1.</value>
    public double BackoffFactor { get; set; } = 2.0;

    /// <summary>The cap on the exponential part of the delay.</summary>
    /// <value>The default value is 2 s.</value>
    public TimeSpan MaxDelay { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How the delay is randomised.</summary>
    /// <value>The default value is <see cref="JitterMode.Additive"/>.</value>
    public JitterMode Jitter { get; set; } = JitterMode.Additive;

    /// <summary>The largest random part added with <see cref="JitterMode.Additive"/>.</summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan MaxJitter { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// The longest <c>Retry-After</c> the runtime will honour. When a server asks for a longer wait the call
    /// fails at once with the status error instead of sleeping on it.
    /// </summary>
    /// <value>The default value is 30 s.</value>
    public TimeSpan MaxRetryAfter { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The statuses retried when <see cref="RetryStatusCodes"/> is not set: 408, 429, 500, 502, 503, 504.</summary>
    public static IReadOnlyList<int> DefaultRetryStatusCodes { get; } = [408, 429, 500, 502, 503, 504];

    /// <summary>
    /// Response statuses that are retried. A configured list replaces the defaults (it is not added to them).
    /// </summary>
    /// <value>The default value is <see langword="null"/>, meaning <see cref="DefaultRetryStatusCodes"/>
    /// (408, 429, 500, 502, 503, 504; 501 and other 4xx are never retried by default).</value>
    public IList<int>? RetryStatusCodes { get; set; }

    internal IReadOnlyCollection<int> EffectiveRetryStatusCodes => (IReadOnlyCollection<int>?)RetryStatusCodes?.ToArray() ?? DefaultRetryStatusCodes;

    /// <summary>
    /// Retry non-idempotent methods (POST, PATCH) even after the request may have reached the server.
    /// Leave it off and mark individual calls instead (an <c>Idempotency-Key</c> header, or
    /// <see cref="HttpCall.RetryNonIdempotent"/>).
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool RetryNonIdempotentMethods { get; set; }

    /// <summary>
    /// Give every non-idempotent call (POST, PATCH, any method but GET, HEAD, OPTIONS, TRACE, PUT, DELETE) that has no
    /// <c>Idempotency-Key</c> header one: a random key made once per call, so all of that call's attempts carry the same
    /// key, and the call is then retried like an idempotent one. Turn it on only for servers that honour the header
    /// (IETF draft-ietf-httpapi-idempotency-key-header, Stripe): such a server applies a repeated request once.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool AddIdempotencyKeys { get; set; }

    /// <summary>
    /// The source of randomness for jitter: a function returning a value in [0, 1). Tests pin it
    /// (<c>Randomizer = () => 0.5</c>) to make delays exact. Not bound from configuration.
    /// </summary>
    /// <value>The default value is <see cref="Random.Shared"/>'s <c>NextDouble</c>.</value>
    public Func<double> Randomizer { get; set; } = Random.Shared.NextDouble;

    internal void Validate()
    {
        if (MaxRetries is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(MaxRetries), MaxRetries, "Retry:MaxRetries must be between 0 and 100.");
        if (BaseDelay < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(BaseDelay), BaseDelay, "Retry:BaseDelay must not be negative.");
        if (BackoffFactor < 1) throw new ArgumentOutOfRangeException(nameof(BackoffFactor), BackoffFactor, "Retry:BackoffFactor must be at least 1.");
        if (MaxDelay < BaseDelay) throw new ArgumentOutOfRangeException(nameof(MaxDelay), MaxDelay, "Retry:MaxDelay must be at least Retry:BaseDelay.");
        if (MaxJitter < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxJitter), MaxJitter, "Retry:MaxJitter must not be negative.");
        if (MaxRetryAfter < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MaxRetryAfter), MaxRetryAfter, "Retry:MaxRetryAfter must not be negative.");
        ArgumentNullException.ThrowIfNull(Randomizer, "Retry:Randomizer");
    }
}
