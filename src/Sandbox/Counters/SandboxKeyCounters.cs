namespace Courier.Sandbox;

/// <summary>An immutable snapshot of the request counters of one <c>X-Sandbox-Key</c>.</summary>
/// <param name="Requests">Requests received for the key (the last request's <c>attempt</c> number).</param>
/// <param name="InFlight">Requests of the key being handled right now.</param>
/// <param name="MaxInFlight">The highest number of concurrent in-flight requests ever seen for the key.</param>
/// <param name="ByMethod">Requests per HTTP method (upper case), methods never seen are absent.</param>
/// <param name="ByIdempotencyKey">Requests per <c>Idempotency-Key</c> header value.</param>
public sealed record SandboxKeyCounters(
    long Requests,
    int InFlight,
    int MaxInFlight,
    IReadOnlyDictionary<string, long> ByMethod,
    IReadOnlyDictionary<string, long> ByIdempotencyKey)
{
    /// <summary>The counters of a key that has seen no request.</summary>
    public static SandboxKeyCounters Empty { get; } = new(
        0, 0, 0, new Dictionary<string, long>(), new Dictionary<string, long>());
}
