using System.Net;
using Courier.Diagnostics;

namespace Courier.Errors;

/// <summary>Why a call failed, for callers that switch rather than catch by type.</summary>
public enum HttpCallFailure
{
    /// <summary>The server answered with a status that is not a success, and retries (if any) did not help.</summary>
    Status,
    /// <summary>An attempt or the whole call ran out of time.</summary>
    Timeout,
    /// <summary>The connection failed, was refused, or the response was cut off.</summary>
    Transport,
    /// <summary>The client-wide retry budget was spent, so the call was not retried.</summary>
    RetryBudgetExhausted,
    /// <summary>Too many calls were waiting; the call was refused without being sent.</summary>
    QueueFull,
    /// <summary>The call itself was malformed (a relative URL without a base address, a bad header...).</summary>
    InvalidRequest,
    /// <summary>No valid access token could be had: the refresh failed, or the client is signed out.</summary>
    Authentication,
    /// <summary>The runtime is shutting down or one of its actors stopped unexpectedly.</summary>
    RuntimeUnavailable,
    /// <summary>The host's circuit breaker is open: the call failed fast without being sent (<see cref="CircuitOpenException"/>).</summary>
    CircuitOpen,
}

/// <summary>
/// The base of every error a call through the runtime can end with (except cancellation, which is an
/// <see cref="HttpCallCanceledException"/>). Messages name the method and the URL with query values masked;
/// they never contain headers, tokens or request bodies.
/// </summary>
public abstract class HttpCallException : Exception
{
    private protected HttpCallException(HttpCallFailure failure, HttpMethod method, Uri? url, int attempts, string message, Exception? inner = null)
        : base(message, inner)
    {
        Failure = failure;
        Method = method;
        Url = SafeUrl.Format(url);
        Attempts = attempts;
    }

    /// <summary>Why the call failed.</summary>
    public HttpCallFailure Failure { get; }

    /// <summary>The HTTP method of the call.</summary>
    public HttpMethod Method { get; }

    /// <summary>The URL of the call, user info removed and query values masked.</summary>
    public string Url { get; }

    /// <summary>How many attempts were sent (0 when the call never left the client).</summary>
    public int Attempts { get; }

    private protected static string Describe(HttpMethod method, Uri? url) => $"{method.Method} {SafeUrl.Format(url)}";

    private protected static string AttemptsText(int attempts) => attempts == 1 ? "1 attempt" : $"{attempts} attempts";
}

/// <summary>The server answered with a non-success status.</summary>
public sealed class HttpStatusException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public HttpStatusException(HttpMethod method, Uri? url, int attempts, HttpStatusCode statusCode, string? reasonPhrase,
        string? responseBody, string? detail = null)
        : base(HttpCallFailure.Status, method, url, attempts,
            $"{Describe(method, url)} answered {(int)statusCode} {reasonPhrase ?? statusCode.ToString()} after {AttemptsText(attempts)}{(detail is null ? "." : "; " + detail)}")
    {
        StatusCode = statusCode;
        ReasonPhrase = reasonPhrase;
        ResponseBody = responseBody;
    }

    /// <summary>The final status.</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The reason phrase the server sent, if any.</summary>
    public string? ReasonPhrase { get; }

    /// <summary>The first few KiB of the response body (<see cref="HttpRuntimeOptions.MaxErrorBodyBytes"/>), decoded as UTF-8.</summary>
    public string? ResponseBody { get; }
}

/// <summary>Whether a timeout was one attempt's or the whole call's.</summary>
public enum TimeoutKind
{
    /// <summary>The last attempt did not answer within the per-attempt timeout.</summary>
    Attempt,
    /// <summary>The call's overall deadline passed, or the next retry would have been after it.</summary>
    Deadline,
}

/// <summary>The call ran out of time.</summary>
public sealed class HttpCallTimeoutException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public HttpCallTimeoutException(HttpMethod method, Uri? url, int attempts, TimeoutKind kind, TimeSpan limit, string? detail = null, Exception? inner = null)
        : base(HttpCallFailure.Timeout, method, url, attempts,
            kind == TimeoutKind.Attempt
                ? $"{Describe(method, url)} timed out: no answer within the per-attempt timeout of {limit.TotalSeconds:0.###} s ({AttemptsText(attempts)})."
                : $"{Describe(method, url)} passed its deadline of {limit.TotalSeconds:0.###} s after {AttemptsText(attempts)}{(detail is null ? "." : ": " + detail)}",
            inner)
    {
        Kind = kind;
        Limit = limit;
    }

    /// <summary>Which limit was hit.</summary>
    public TimeoutKind Kind { get; }

    /// <summary>The limit that was hit.</summary>
    public TimeSpan Limit { get; }
}

/// <summary>The connection failed or the response was cut off, and retries (if any) did not help.</summary>
public sealed class HttpTransportException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public HttpTransportException(HttpMethod method, Uri? url, int attempts, string reason, Exception? inner)
        : base(HttpCallFailure.Transport, method, url, attempts, $"{Describe(method, url)} failed after {AttemptsText(attempts)}: {reason}", inner)
    {
    }
}

/// <summary>The client-wide retry budget is spent: the call failed fast instead of retrying.</summary>
public sealed class RetryBudgetExhaustedException : HttpCallException
{
    /// <summary>Creates the error; <paramref name="lastError"/> is what the retry would have recovered from.</summary>
    public RetryBudgetExhaustedException(HttpMethod method, Uri? url, int attempts, Exception? lastError)
        : base(HttpCallFailure.RetryBudgetExhausted, method, url, attempts,
            $"{Describe(method, url)} was not retried: the client-wide retry budget is exhausted (too many failures recently). Last error: {lastError?.Message}",
            lastError)
    {
    }
}

/// <summary>The runtime already had the maximum number of calls waiting; this one was refused without being sent.</summary>
public sealed class CallQueueFullException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public CallQueueFullException(HttpMethod method, Uri? url, int inFlight, int queued)
        : base(HttpCallFailure.QueueFull, method, url, 0,
            $"{Describe(method, url)} was refused: {inFlight} calls in flight and {queued} waiting (queued, or for their host without a slot), the configured maximum (MaxConcurrentCalls, MaxQueuedCalls).")
    {
    }
}

/// <summary>The call could not be sent as given.</summary>
public sealed class InvalidHttpCallException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public InvalidHttpCallException(HttpMethod method, Uri? url, string reason, Exception? inner = null)
        : base(HttpCallFailure.InvalidRequest, method, url, 0, $"{Describe(method, url)} is not a valid call: {reason}", inner)
    {
    }
}

/// <summary>The runtime could not run the call (it is shutting down, or an actor stopped unexpectedly).</summary>
public sealed class RuntimeUnavailableException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public RuntimeUnavailableException(HttpMethod method, Uri? url, int attempts, string reason, Exception? inner = null)
        : base(HttpCallFailure.RuntimeUnavailable, method, url, attempts, $"{Describe(method, url)} could not complete: {reason}", inner)
    {
    }
}

/// <summary>The caller cancelled the call. Any attempt in flight was aborted and no retry will run.</summary>
public sealed class HttpCallCanceledException : OperationCanceledException
{
    /// <summary>Creates the error.</summary>
    public HttpCallCanceledException(HttpMethod method, Uri? url, int attempts, CancellationToken token = default)
        : base($"{method.Method} {SafeUrl.Format(url)} was cancelled by the caller after {attempts} attempt(s).", null, token)
    {
        Method = method;
        Url = SafeUrl.Format(url);
        Attempts = attempts;
    }

    /// <summary>The HTTP method of the call.</summary>
    public HttpMethod Method { get; }

    /// <summary>The URL of the call, query values masked.</summary>
    public string Url { get; }

    /// <summary>How many attempts were sent.</summary>
    public int Attempts { get; }
}
