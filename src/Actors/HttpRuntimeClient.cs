using System.Net.Http.Json;
using System.Text.Json;
using Akka.Actor;
using Courier.Errors;
using Courier.Internal;
using Courier.Requests;

namespace Courier;

/// <summary>
/// The runtime as seen from code that is not an actor: each call is handed to the <see cref="RequestCoordinator"/>,
/// which runs it in its own actor with retries, timeouts and (when configured) tokens.
/// </summary>
public interface IHttpRuntimeClient : Transfers.ITransferClient
{
    /// <summary>
    /// Sends a request through the runtime. The request's body is read once and replayed on every attempt.
    /// Returns the response of a successful (2xx) call, which the caller disposes.
    /// </summary>
    /// <exception cref="HttpCallException">The call failed; see the subclass and <see cref="HttpCallException.Failure"/>.</exception>
    /// <exception cref="HttpCallCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default);

    /// <summary>Sends a prepared <see cref="HttpCall"/> through the runtime.</summary>
    /// <inheritdoc cref="SendAsync(HttpRequestMessage, CancellationToken)"/>
    Task<HttpResponseMessage> SendAsync(HttpCall call, CancellationToken cancellationToken = default);

    /// <summary>
    /// Runs a call and returns its outcome without throwing: <see cref="CallSucceeded"/> (whose response the caller
    /// disposes) or <see cref="CallFailed"/>, both with the number of attempts. For batch callers that record every result.
    /// </summary>
    Task<CallResult> ExecuteAsync(HttpCall call, CancellationToken cancellationToken = default);

    /// <summary>GETs <paramref name="requestUri"/> and deserialises the JSON body.</summary>
    Task<T?> GetJsonAsync<T>(string requestUri, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>POSTs <paramref name="value"/> as JSON and deserialises the JSON answer.</summary>
    Task<TResponse?> PostJsonAsync<TRequest, TResponse>(string requestUri, TRequest value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>POSTs <paramref name="value"/> as JSON and returns the response.</summary>
    Task<HttpResponseMessage> PostJsonAsync<TRequest>(string requestUri, TRequest value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Gives the TokenActor new credentials (after a login); calls use them from now on. Returns the new token generation.</summary>
    /// <exception cref="InvalidOperationException">Authentication is not configured (<see cref="HttpRuntimeOptions.Auth"/>).</exception>
    Task<long> SignInAsync(Auth.TokenPair credentials, CancellationToken cancellationToken = default);

    /// <summary>Drops the credentials and clears the store: authenticated calls fail fast until the next sign-in.</summary>
    Task SignOutAsync(CancellationToken cancellationToken = default);

    /// <summary>The TokenActor's state: generation, expiry, refreshes performed.</summary>
    Task<Auth.TokenStatus> GetTokenStatusAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The current access token of <paramref name="credential"/> (null: the default credential, <c>Courier:Auth</c>), for
    /// callers that are not HTTP requests through the runtime: gRPC call metadata, SignalR's <c>AccessTokenProvider</c>.
    /// It is asked of the credential's TokenActor like a call's token: when the token has expired, every concurrent caller
    /// waits for the same one refresh. Never log the result.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="credential"/> is not configured (<c>Courier:Credentials:{name}</c>).</exception>
    /// <exception cref="InvalidOperationException">Authentication is not configured (<see cref="HttpRuntimeOptions.Auth"/>).</exception>
    /// <exception cref="AuthenticationFailedException">No token can be had (refresh failed, signed out); names the credential.</exception>
    Task<string> GetAccessTokenAsync(string? credential = null, CancellationToken cancellationToken = default);
}

/// <summary>Per-request switches for <see cref="IHttpRuntimeClient.SendAsync(HttpRequestMessage, CancellationToken)"/>, set in <see cref="HttpRequestMessage.Options"/>.</summary>
public static class HttpCallOptions
{
    /// <summary>Allow retries of a POST/PATCH after it may have reached the server (see <see cref="HttpCall.RetryNonIdempotent"/>).</summary>
    public static readonly HttpRequestOptionsKey<bool> RetryNonIdempotent = new("Courier.RetryNonIdempotent");

    /// <summary>Overrides the per-attempt timeout for this request.</summary>
    public static readonly HttpRequestOptionsKey<TimeSpan> AttemptTimeout = new("Courier.AttemptTimeout");

    /// <summary>Overrides the call deadline for this request.</summary>
    public static readonly HttpRequestOptionsKey<TimeSpan> Deadline = new("Courier.Deadline");

    /// <summary>Overrides the number of retries for this request.</summary>
    public static readonly HttpRequestOptionsKey<int> MaxRetries = new("Courier.MaxRetries");

    /// <summary>
    /// For requests sent through <see cref="Hosting.CourierDelegatingHandler"/>: how the runtime completes the call. A handler
    /// cannot see the <see cref="HttpCompletionOption"/> the caller gave <see cref="HttpClient"/>, so the client's
    /// <see cref="Hosting.CourierClientOptions.StreamResponses"/> decides unless this key says otherwise.
    /// </summary>
    public static readonly HttpRequestOptionsKey<HttpCompletionOption> Completion = new("Courier.Completion");

    /// <summary>Send this request without the runtime's access token (see <see cref="HttpCall.Anonymous"/>).</summary>
    public static readonly HttpRequestOptionsKey<bool> Anonymous = new("Courier.Anonymous");

    /// <summary>The named credential whose token this request carries (see <see cref="HttpCall.Credential"/>); unset is the default credential.</summary>
    public static readonly HttpRequestOptionsKey<string> Credential = new("Courier.Credential");
}

/// <summary>The default <see cref="IHttpRuntimeClient"/>.</summary>
public sealed class HttpRuntimeClient : IHttpRuntimeClient
{
    // The coordinator always answers before the call's deadline; this only guards against a runtime that is gone.
    private static readonly TimeSpan AnswerGrace = TimeSpan.FromSeconds(10);

    private readonly Func<CancellationToken, Task<IActorRef>> _coordinator;
    private CoordinatorWatch? _callWatch;
    private readonly Func<CancellationToken, Task<IActorRef?>> _tokens;
    private readonly Func<CancellationToken, Task<IActorRef?>> _credentials;
    private readonly Auth.TokenOptions? _auth;
    private readonly IReadOnlyDictionary<string, (string Name, Auth.TokenOptions Options)> _named;
    private readonly Uri? _baseAddress;
    private readonly TimeSpan _deadline;
    private readonly Transfers.TransferClient _transfers;

    /// <summary>Creates a client over running actors.</summary>
    public HttpRuntimeClient(HttpRuntimeActors actors, HttpRuntimeOptions options)
        : this(Completed(actors.Requests), _ => Task.FromResult(actors.Tokens), options, _ => Task.FromResult(actors.Transfers),
            _ => Task.FromResult(actors.Credentials))
    {
    }

    /// <summary>The source of an actor that is already running: one completed task, not one per call.</summary>
    private static Func<CancellationToken, Task<IActorRef>> Completed(IActorRef actor)
    {
        var task = Task.FromResult(actor);
        return _ => task;
    }

    internal HttpRuntimeClient(Func<CancellationToken, Task<IActorRef>> coordinator, Func<CancellationToken, Task<IActorRef?>> tokens, HttpRuntimeOptions options,
        Func<CancellationToken, Task<IActorRef?>>? transfers = null, Func<CancellationToken, Task<IActorRef?>>? credentials = null)
    {
        _coordinator = coordinator;
        _tokens = tokens;
        _credentials = credentials ?? (_ => Task.FromResult<IActorRef?>(null));
        _auth = options.Auth;
        // Names are case-insensitive; the TokenActor is named as configured.
        _named = options.Credentials.ToDictionary(c => c.Key, c => (c.Key, c.Value), StringComparer.OrdinalIgnoreCase);
        _baseAddress = options.BaseAddress;
        _deadline = options.CallDeadline;
        _transfers = new Transfers.TransferClient(transfers ?? (_ => Task.FromResult<IActorRef?>(null)), options.BaseAddress);
    }

    /// <inheritdoc />
    public Task<Transfers.TransferCompleted> DownloadAsync(Transfers.DownloadRequest request, IProgress<Transfers.TransferProgress>? progress = null,
        CancellationToken cancellationToken = default) => _transfers.DownloadAsync(request, progress, cancellationToken);

    /// <inheritdoc />
    public Task<Transfers.TransferCompleted> UploadAsync(Transfers.UploadRequest request, IProgress<Transfers.TransferProgress>? progress = null,
        CancellationToken cancellationToken = default) => _transfers.UploadAsync(request, progress, cancellationToken);

    /// <inheritdoc />
    public async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var call = await ToCallAsync(request, cancellationToken).ConfigureAwait(false);
        return await SendAsync(call, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<HttpResponseMessage> SendAsync(HttpCall call, CancellationToken cancellationToken = default)
    {
        var result = await RunAsync(call, cancellationToken).ConfigureAwait(false);
        return result switch
        {
            CallSucceeded ok => ok.Response,
            CallFailed { Error: HttpCallCanceledException canceled } => throw new HttpCallCanceledException(canceled.Method, call.Uri, canceled.Attempts, cancellationToken),
            CallFailed failed => throw failed.Error,
            _ => throw new InvalidOperationException($"Unexpected answer {result}."),
        };
    }

    /// <inheritdoc />
    public async Task<CallResult> ExecuteAsync(HttpCall call, CancellationToken cancellationToken = default) =>
        await RunAsync(call, cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// Runs a call through the coordinator: <see cref="ExecuteAsync"/>, awaited directly by <see cref="SendAsync(HttpCall, CancellationToken)"/>.
    /// Its state machine comes from a pool (it is awaited once, at once), so a call allocates one for the public method only.
    /// </summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<CallResult> RunAsync(HttpCall call, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (!call.Uri.IsAbsoluteUri) call = call with { Uri = Resolve(call.Method, call.Uri) };
        cancellationToken.ThrowIfCancellationRequested();

        var coordinator = await _coordinator(cancellationToken).ConfigureAwait(false);
        var watch = CoordinatorWatch.For(ref _callWatch, coordinator);
        if (watch.Stopped)
            return new CallFailed(call.Id, new RuntimeUnavailableException(call.Method, call.Uri, 0, "the runtime has stopped (the actor system is shutting down)"), 0);

        var reply = new ReplyRef<CallResult>(watch.Provider, watch.Path,
            stopped: static state => state is HttpCall c
                ? new CallFailed(c.Id, new RuntimeUnavailableException(c.Method, c.Uri, 0, "the runtime stopped (the actor system is shutting down)"), 0)
                : throw new InvalidOperationException("not a call"),
            stoppedState: call,
            late: static late => (late as CallSucceeded)?.Response.Dispose());
        // Tracked before the Tell: a call the stopped coordinator never reads (it went to dead letters) is answered by the watch.
        using var tracked = watch.Track(reply);
        coordinator.Tell(new ExecuteCall(call), reply);
        if (!cancellationToken.CanBeCanceled) return await reply.Task.ConfigureAwait(false); // nothing to register
        var (method, uri, id) = (call.Method, call.Uri, call.Id);
        // Registered after the Tell, so a CancelCall can never overtake its call. Cancellation tells the coordinator
        // (which aborts the attempt and answers), and also completes the caller's task here, so a caller never waits
        // on a runtime that stopped in the meantime; whichever answer comes first wins, a late response is disposed.
        await using var registration = cancellationToken.Register(static state =>
        {
            var (target, id, pending, method, uri) = ((IActorRef, long, ReplyRef<CallResult>, HttpMethod, Uri))state!;
            target.Tell(new CancelCall(id));
            pending.TryComplete(new CallFailed(id, new HttpCallCanceledException(method, uri, 0), 0));
        }, (coordinator, id, reply, method, uri)).ConfigureAwait(false);
        return await reply.Task.ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<T?> GetJsonAsync<T>(string requestUri, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = new HttpCall(HttpMethod.Get, Resolve(HttpMethod.Get, requestUri))
        {
            Headers = [new("Accept", "application/json")],
        };
        using var response = await SendAsync(call, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(options ?? JsonSerializerOptions.Web, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<TResponse?> PostJsonAsync<TRequest, TResponse>(string requestUri, TRequest value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        using var response = await PostJsonAsync(requestUri, value, options, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<TResponse>(options ?? JsonSerializerOptions.Web, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public Task<HttpResponseMessage> PostJsonAsync<TRequest>(string requestUri, TRequest value, JsonSerializerOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = new HttpCall(HttpMethod.Post, Resolve(HttpMethod.Post, requestUri))
        {
            Body = RequestBody.Json(value, options),
            Headers = [new("Accept", "application/json")],
        };
        return SendAsync(call, cancellationToken);
    }

    /// <inheritdoc />
    public async Task<long> SignInAsync(Auth.TokenPair credentials, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var tokens = await RequireTokens(cancellationToken).ConfigureAwait(false);
        var answer = await tokens.Ask<Auth.SignedIn>(new Auth.SignIn(credentials), AnswerGrace, cancellationToken).ConfigureAwait(false);
        return answer.Generation;
    }

    /// <inheritdoc />
    public async Task SignOutAsync(CancellationToken cancellationToken = default)
    {
        var tokens = await RequireTokens(cancellationToken).ConfigureAwait(false);
        tokens.Tell(Auth.SignOut.Instance);
        // The status answer comes after the sign-out is processed (one mailbox, in order).
        await tokens.Ask<Auth.TokenStatus>(Auth.GetTokenStatus.Instance, AnswerGrace, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<Auth.TokenStatus> GetTokenStatusAsync(CancellationToken cancellationToken = default)
    {
        var tokens = await RequireTokens(cancellationToken).ConfigureAwait(false);
        return await tokens.Ask<Auth.TokenStatus>(Auth.GetTokenStatus.Instance, AnswerGrace, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<string> GetAccessTokenAsync(string? credential = null, CancellationToken cancellationToken = default)
    {
        IActorRef target;
        Auth.TokenOptions options;
        object request;
        var id = HttpCall.NextId(); // an id from the calls' counter, for logs
        if (credential is null)
        {
            target = await RequireTokens(cancellationToken).ConfigureAwait(false);
            options = _auth!;
            request = new Auth.GetToken(id);
        }
        else
        {
            if (!_named.TryGetValue(credential, out var named))
                throw new ArgumentException($"No credential named '{credential}' is configured (Courier:Credentials:{credential}).", nameof(credential));
            options = named.Options;
            target = await _credentials(cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The named credentials are not running.");
            request = new Auth.ForCredential(named.Name, new Auth.GetToken(id));
        }
        // The TokenActor answers within its refresh timeout and store-write bound; the grace only guards a runtime that is gone.
        var timeout = options.RefreshTimeout + options.StoreWriteTimeout + AnswerGrace;
        var answer = await target.Ask<object>(request, timeout, cancellationToken).ConfigureAwait(false);
        return answer switch
        {
            Auth.TokenGranted granted => granted.AccessToken,
            Auth.TokenUnavailable unavailable => throw unavailable.Error,
            Status.Failure failure => throw failure.Cause,
            _ => throw new InvalidOperationException($"Unexpected answer {answer.GetType().Name}."),
        };
    }

    private async Task<IActorRef> RequireTokens(CancellationToken cancellationToken) =>
        await _tokens(cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("Authentication is not configured: set Courier:Auth (HttpRuntimeOptions.Auth).");

    private Uri Resolve(HttpMethod method, string requestUri)
    {
        if (!Uri.TryCreate(requestUri, UriKind.RelativeOrAbsolute, out var uri))
            throw new InvalidHttpCallException(method, null, $"'{Diagnostics.SafeUrl.Format(new Uri("x:" + Uri.EscapeDataString(requestUri)))}' is not a URL");
        return Resolve(method, uri);
    }

    private Uri Resolve(HttpMethod method, Uri uri)
    {
        if (uri.IsAbsoluteUri) return uri;
        if (_baseAddress is null)
            throw new InvalidHttpCallException(method, uri, "the URL is relative and no Courier:BaseAddress is configured");
        return new Uri(_baseAddress, uri);
    }

    private async Task<HttpCall> ToCallAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var method = request.Method;
        var uri = request.RequestUri ?? throw new InvalidHttpCallException(method, null, "the request has no URL");
        uri = Resolve(method, uri);

        // One home for the conversion (the AddCourier handler uses it too): headers, version and policy, options, and the
        // body rule (replayable up to 1 MiB, longer bodies sent once and not retried).
        var call = await HttpRequestConversion.ToCallAsync(request, uri, Hosting.CourierClientOptions.DefaultMaxBufferedRequestBodyBytes, cancellationToken)
            .ConfigureAwait(false);
        var options = request.Options;
        return call with
        {
            RetryNonIdempotent = options.TryGetValue(HttpCallOptions.RetryNonIdempotent, out var retry) && retry,
            Anonymous = options.TryGetValue(HttpCallOptions.Anonymous, out var anonymous) && anonymous,
            AttemptTimeout = options.TryGetValue(HttpCallOptions.AttemptTimeout, out var attempt) ? attempt : null,
            Deadline = options.TryGetValue(HttpCallOptions.Deadline, out var deadline) ? deadline : null,
            MaxRetries = options.TryGetValue(HttpCallOptions.MaxRetries, out var retries) ? retries : null,
            Completion = options.TryGetValue(HttpCallOptions.Completion, out var completion) ? completion : call.Completion,
            Credential = options.TryGetValue(HttpCallOptions.Credential, out var credential) ? credential : null,
        };
    }
}
