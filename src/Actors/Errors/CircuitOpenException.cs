namespace Courier.Errors;

/// <summary>
/// The host's circuit breaker is open (too many consecutive failures of that host): the call failed fast without
/// being sent. Calls to the host go again once a half-open probe, allowed from <see cref="RetryAt"/>, succeeds.
/// </summary>
public sealed class CircuitOpenException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public CircuitOpenException(HttpMethod method, Uri? url, int attempts, string host, DateTimeOffset retryAt)
        : base(HttpCallFailure.CircuitOpen, method, url, attempts,
            $"{Describe(method, url)} was not sent: the circuit for {host} is open after repeated failures of that host; a probe may go from {retryAt:O}.")
    {
        Host = host;
        RetryAt = retryAt;
    }

    /// <summary>The host (scheme://host:port) whose circuit is open.</summary>
    public string Host { get; }

    /// <summary>When the next probe to the host may go (scheduler time).</summary>
    public DateTimeOffset RetryAt { get; }
}
