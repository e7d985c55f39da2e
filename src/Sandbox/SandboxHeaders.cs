namespace Courier.Sandbox;

/// <summary>Names of the request headers understood by the sandbox echo resources.</summary>
public static class SandboxHeaders
{
    /// <summary>Selects the counter (and fault-injection attempt numbering) a request belongs to; default <see cref="DefaultKey"/>.</summary>
    public const string Key = "X-Sandbox-Key";

    /// <summary>The key used when a request carries no <see cref="Key"/> header.</summary>
    public const string DefaultKey = "default";

    /// <summary>Requests 1..N of the key are answered with <see cref="FaultStatus"/> instead of the echo.</summary>
    public const string FailFirst = "X-Fault-Fail-First";

    /// <summary>Status code of injected failures (default 503).</summary>
    public const string FaultStatus = "X-Fault-Status";

    /// <summary>Copied verbatim into <c>Retry-After</c> on injected failures (delta-seconds or HTTP-date).</summary>
    public const string RetryAfter = "X-Fault-Retry-After";

    /// <summary>Requests 1..N of the key send 200 headers declaring 1000 bytes, write a few, then abort the connection.</summary>
    public const string AbortFirst = "X-Fault-Abort-First";

    /// <summary>Every request carrying it waits this many milliseconds before being handled.</summary>
    public const string LatencyMs = "X-Fault-Latency-Ms";

    /// <summary>Requests 1..N of the key never answer; they end when the client gives up or the server stops.</summary>
    public const string HangFirst = "X-Fault-Hang-First";

    /// <summary>Per-value request counts of this header are kept for each key.</summary>
    public const string IdempotencyKey = "Idempotency-Key";

    /// <summary>Custom header that may carry a bare access token instead of <c>Authorization: Bearer</c> (seed 002 style).</summary>
    public const string AccessToken = "accessToken";
}
