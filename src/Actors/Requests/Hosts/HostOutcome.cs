using System.Net;

namespace Courier.Requests.Hosts;

/// <summary>What an attempt's end says about its host, for <see cref="HostPolicies.OnOutcome"/>.</summary>
internal enum HostOutcome
{
    /// <summary>The host answered (any 1xx-4xx status but 408 and 429, or a 5xx the caller does not hold against the host).</summary>
    Success,

    /// <summary>The host asked to slow down: 429, or 503 with <c>Retry-After</c>. Pauses the host, cuts its window; not a breaker failure.</summary>
    Throttled,

    /// <summary>The host is failing: 5xx (503 without <c>Retry-After</c>), 408, a timeout or a transport error. Cuts the window and counts towards the breaker.</summary>
    Failed,

    /// <summary>The attempt ended without an answer that says anything about the host (the caller cancelled, the call was invalid).</summary>
    Ignored,
}

/// <summary>The pure mapping from an attempt's end to a <see cref="HostOutcome"/>.</summary>
internal static class HostOutcomes
{
    /// <summary>The outcome of an attempt that got a response.</summary>
    public static HostOutcome FromStatus(HttpStatusCode status, TimeSpan? retryAfter) => (int)status switch
    {
        429 => HostOutcome.Throttled,
        503 when retryAfter is not null => HostOutcome.Throttled,
        408 or >= 500 => HostOutcome.Failed,
        _ => HostOutcome.Success,
    };

    /// <summary>The outcome of an attempt that timed out or whose connection failed: the host is failing.</summary>
    public static HostOutcome FromTransportOrTimeout() => HostOutcome.Failed;
}
