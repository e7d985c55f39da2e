using System.Diagnostics;

namespace Courier.Diagnostics;

/// <summary>
/// The runtime's traces on <see cref="System.Diagnostics"/>: one <see cref="ActivitySource"/> named
/// <see cref="SourceName"/>, no OpenTelemetry dependency. Add the source to a tracer provider
/// (<c>.AddSource(CourierActivities.SourceName)</c>) to export its spans.
/// </summary>
/// <remarks>
/// Spans: a call (<see cref="CallOperation"/>, client kind, child of the caller's <see cref="Activity.Current"/> captured when
/// the <see cref="Requests.HttpCall"/> was made), one child per attempt (<see cref="AttemptOperation"/>, the OpenTelemetry HTTP
/// client conventions), a token refresh (<see cref="RefreshOperation"/>, a root span linked to every call that waited for it)
/// and a transfer (<see cref="TransferOperation"/>). Nothing recorded carries a token, a body or a query value.
/// </remarks>
public static class CourierActivities
{
    /// <summary>The name of the runtime's <see cref="ActivitySource"/>.</summary>
    public const string SourceName = "Courier";

    /// <summary>The operation name of a call's span (its display name is <c>"call {method}"</c>).</summary>
    public const string CallOperation = "Courier.Call";

    /// <summary>The operation name of an attempt's span (its display name is the method, as the HTTP conventions say).</summary>
    public const string AttemptOperation = "Courier.Attempt";

    /// <summary>The operation name of a token refresh's span.</summary>
    public const string RefreshOperation = "Courier.TokenRefresh";

    /// <summary>The operation name of a transfer's span.</summary>
    public const string TransferOperation = "Courier.Transfer";

    internal static readonly ActivitySource Source = new(SourceName, "1.0");

    /// <summary>Event names on the spans.</summary>
    public static class Events
    {
        /// <summary>On a call: a retry was scheduled (reason, delay, Retry-After).</summary>
        public const string Retry = "courier.retry";

        /// <summary>On a call: it waited for the access token (it reported a refused one, or a refresh was running).</summary>
        public const string TokenWait = "courier.token.wait";

        /// <summary>On a call: a redirect is followed.</summary>
        public const string Redirect = "courier.redirect";

        /// <summary>On a refresh: a request to the token endpoint failed and another follows.</summary>
        public const string RefreshRetry = "courier.refresh.retry";

        /// <summary>On a transfer: it resumes after an interruption.</summary>
        public const string Resume = "courier.transfer.resume";
    }
}

/// <summary>Attribute (tag) names: the OpenTelemetry semantic conventions where one exists, <c>courier.*</c> otherwise.</summary>
internal static class Tags
{
    public const string Method = "http.request.method";
    public const string ServerAddress = "server.address";
    public const string ServerPort = "server.port";
    public const string UrlFull = "url.full";
    public const string UrlScheme = "url.scheme";
    public const string StatusCode = "http.response.status_code";
    public const string ErrorType = "error.type";
    public const string ResendCount = "http.request.resend_count";

    public const string CallId = "courier.call.id";
    public const string Attempts = "courier.call.attempts";
    public const string Outcome = "courier.outcome";
    public const string StatusClass = "courier.status_class";
    public const string Reason = "courier.reason";
    public const string RetryNumber = "courier.retry.number";
    public const string RetryDelay = "courier.retry.delay_ms";
    public const string RetryAfter = "courier.retry.retry_after_ms";
    public const string QueueWait = "courier.queue.wait_ms";
    public const string TokenRequest = "courier.token.request";
    public const string TokenGeneration = "courier.token.generation";
    public const string TokenWaitMs = "courier.token.wait_ms";
    public const string RefreshTrigger = "courier.refresh.trigger";
    public const string RefreshAttempts = "courier.refresh.attempts";
    public const string Waiting = "courier.refresh.waiting";
    public const string TransferId = "courier.transfer.id";
    public const string TransferDirection = "courier.transfer.direction";
    public const string TransferBytes = "courier.transfer.bytes";
    public const string TransferFrom = "courier.transfer.resume_from";
    public const string TransferResumes = "courier.transfer.resumes";
}
