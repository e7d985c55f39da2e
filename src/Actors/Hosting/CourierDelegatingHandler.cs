using System.Text;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Hosting;

/// <summary>
/// The last handler of an <see cref="HttpClient"/>'s pipeline: every request becomes a call of the runtime, run by the
/// <see cref="RequestCoordinator"/> and a RequestActor with the runtime's access token, retries, retry budget and cap on
/// calls in flight, and sent through the runtime's own primary handler. Handlers added before it run once per request;
/// the client's own primary handler (and any handler added after this one) is never used.
/// </summary>
/// <remarks>
/// Nothing the caller set is dropped: headers, body, <see cref="HttpRequestMessage.Version"/>/<see cref="HttpRequestMessage.VersionPolicy"/>
/// (the defaults, 1.1 with <see cref="HttpVersionPolicy.RequestVersionOrLower"/>, leave the runtime's choice, HTTP/2 where
/// offered) and <see cref="HttpRequestMessage.Options"/> reach the attempt's request. Bodies follow the rule of
/// <see cref="CourierClientOptions.MaxBufferedRequestBodyBytes"/>. A call that fails for another reason than its status
/// throws an <see cref="HttpRequestException"/> whose inner exception is the runtime's <see cref="HttpCallException"/>;
/// cancellation throws <see cref="HttpCallCanceledException"/> (an <see cref="OperationCanceledException"/>).
/// </remarks>
public sealed class CourierDelegatingHandler : DelegatingHandler
{
    private readonly IHttpRuntimeClient _runtime;
    private readonly CourierClientOptions _options;

    /// <summary>Creates the handler over a running runtime.</summary>
    /// <param name="runtime">The runtime's client facade.</param>
    /// <param name="options">This client's settings; null for the defaults. Copied now.</param>
    /// <param name="clientName">The client's name, for validation messages.</param>
    public CourierDelegatingHandler(IHttpRuntimeClient runtime, CourierClientOptions? options = null, string clientName = "")
    {
        _runtime = runtime ?? throw new ArgumentNullException(nameof(runtime));
        var source = options ?? new CourierClientOptions();
        source.Validate(clientName);
        // A copy: behaviour cannot change under a running call.
        _options = new CourierClientOptions
        {
            MaxBufferedRequestBodyBytes = source.MaxBufferedRequestBodyBytes,
            StreamResponses = source.StreamResponses,
            ErrorStatusAsResponse = source.ErrorStatusAsResponse,
            MaxRetries = source.MaxRetries,
            AttemptTimeout = source.AttemptTimeout,
            Deadline = source.Deadline,
            RetryNonIdempotent = source.RetryNonIdempotent,
            Anonymous = source.Anonymous,
            Credential = source.Credential,
        };
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var uri = request.RequestUri is { IsAbsoluteUri: true } absolute ? absolute
            : throw new InvalidOperationException("The request has no absolute URL: give the HttpClient a BaseAddress or the request an absolute URL.");

        var call = await HttpRequestConversion.ToCallAsync(request, uri, _options.MaxBufferedRequestBodyBytes, cancellationToken).ConfigureAwait(false);
        var options = request.Options;
        call = call with
        {
            RetryNonIdempotent = options.TryGetValue(HttpCallOptions.RetryNonIdempotent, out var retry) ? retry : _options.RetryNonIdempotent,
            Anonymous = options.TryGetValue(HttpCallOptions.Anonymous, out var anonymous) ? anonymous : _options.Anonymous,
            AttemptTimeout = options.TryGetValue(HttpCallOptions.AttemptTimeout, out var attempt) ? attempt : _options.AttemptTimeout,
            Deadline = options.TryGetValue(HttpCallOptions.Deadline, out var deadline) ? deadline : _options.Deadline,
            MaxRetries = options.TryGetValue(HttpCallOptions.MaxRetries, out var retries) ? retries : _options.MaxRetries,
            Credential = options.TryGetValue(HttpCallOptions.Credential, out var credential) ? credential : _options.Credential,
            Completion = options.TryGetValue(HttpCallOptions.Completion, out var completion) ? completion
                : _options.StreamResponses ? HttpCompletionOption.ResponseHeadersRead : HttpCompletionOption.ResponseContentRead,
        };

        var result = await _runtime.ExecuteAsync(call, cancellationToken).ConfigureAwait(false);
        switch (result)
        {
            case CallSucceeded ok:
                ok.Response.RequestMessage = request;
                return ok.Response;
            case CallFailed { Error: HttpStatusException status } when _options.ErrorStatusAsResponse:
                return ToResponse(status, request);
            case CallFailed { Error: HttpCallCanceledException canceled }:
                throw new HttpCallCanceledException(canceled.Method, uri, canceled.Attempts, cancellationToken);
            case CallFailed { Error: HttpCallException error }:
                throw new HttpRequestException(error.Message, error, (error as HttpStatusException)?.StatusCode);
            case CallFailed failed:
                throw new HttpRequestException(failed.Error.Message, failed.Error);
            default:
                throw new InvalidOperationException($"Unexpected answer {result}.");
        }
    }

    /// <summary>The error status as a plain <see cref="HttpClient"/> would have returned it (status, reason, start of the body).</summary>
    private static HttpResponseMessage ToResponse(HttpStatusException error, HttpRequestMessage request) => new(error.StatusCode)
    {
        ReasonPhrase = error.ReasonPhrase,
        RequestMessage = request,
        Content = new StringContent(error.ResponseBody ?? "", Encoding.UTF8),
    };
}
