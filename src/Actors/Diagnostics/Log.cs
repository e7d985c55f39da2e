using Microsoft.Extensions.Logging;

namespace Courier.Diagnostics;

/// <summary>
/// The runtime's log messages, source-generated with <see cref="LoggerMessageAttribute"/> (no formatting unless the level is
/// enabled) and with stable event ids, as Microsoft.Extensions.Http logs. A message names a call by method, URL with query
/// values masked (<see cref="SafeUrl"/>) and id; never a header, a token or a body.
/// </summary>
/// <remarks>Event ids: 1xx requests, 2xx transfers. An id is never reused for a different message.</remarks>
internal static partial class Log
{
    public static class Ids
    {
        public const int CallRetrying = 100;
        public const int CallFailedServerError = 101;
        public const int CallFailedClientError = 102;
        public const int TransferRetrying = 200;
        public const int TransferFailed = 201;
    }

    [LoggerMessage(Ids.CallRetrying, LogLevel.Information,
        "Retrying {Method} {Url} (call {CallId}) in {DelayMs} ms (retry {Retry} of {MaxRetries}): {Reason}", EventName = "CallRetrying")]
    private static partial void CallRetrying(ILogger logger, string method, string url, long callId, long delayMs, int retry, int maxRetries, string reason);

    /// <summary>A retry of <paramref name="call"/> is scheduled; <paramref name="reason"/> is a status line or a transport reason.</summary>
    public static void CallRetrying(ILogger logger, Requests.HttpCall call, TimeSpan delay, int retry, int maxRetries, string reason)
    {
        if (logger.IsEnabled(LogLevel.Information))
            CallRetrying(logger, call.Method.Method, SafeUrl.Format(call.Uri), call.Id, (long)delay.TotalMilliseconds, retry, maxRetries, reason);
    }

    [LoggerMessage(Ids.CallFailedServerError, LogLevel.Error, "{Method} {Url} (call {CallId}) failed: {Message}", EventName = "CallFailedServerError")]
    private static partial void CallFailedServerError(ILogger logger, string method, string url, long callId, string message);

    [LoggerMessage(Ids.CallFailedClientError, LogLevel.Warning, "{Method} {Url} (call {CallId}) failed: {Message}", EventName = "CallFailedClientError")]
    private static partial void CallFailedClientError(ILogger logger, string method, string url, long callId, string message);

    /// <summary>
    /// A call ended with an error status: 5xx is the server's problem (error), 4xx the caller's (warning). The message of an
    /// <see cref="Errors.HttpStatusException"/> masks query values and never holds the response body.
    /// </summary>
    public static void CallFailedWithStatus(ILogger logger, Requests.HttpCall call, Errors.HttpStatusException error)
    {
        if ((int)error.StatusCode >= 500)
        {
            if (logger.IsEnabled(LogLevel.Error)) CallFailedServerError(logger, call.Method.Method, SafeUrl.Format(call.Uri), call.Id, error.Message);
        }
        else if (logger.IsEnabled(LogLevel.Warning))
        {
            CallFailedClientError(logger, call.Method.Method, SafeUrl.Format(call.Uri), call.Id, error.Message);
        }
    }

    /// <summary>A transfer lost a chunk and resumes from <paramref name="offset"/> after <paramref name="delayMs"/>.</summary>
    [LoggerMessage(Ids.TransferRetrying, LogLevel.Information,
        "Transfer {TransferId}: retry {Retry} of {MaxRetries} in {DelayMs} ms from byte {Offset}: {Reason}", EventName = "TransferRetrying")]
    public static partial void TransferRetrying(ILogger logger, long transferId, int retry, int maxRetries, long delayMs, long offset, string reason);

    /// <summary>A transfer failed for good.</summary>
    [LoggerMessage(Ids.TransferFailed, LogLevel.Warning, "Transfer {TransferId} failed: {Message}", EventName = "TransferFailed")]
    public static partial void TransferFailed(ILogger logger, long transferId, string message);
}
