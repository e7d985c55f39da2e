using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace Courier.Testing;

/// <summary>A request the <see cref="FakeApi"/> received: method, URL, headers (request and content) and body as text.</summary>
/// <param name="Number">1-based, in arrival order.</param>
/// <param name="Method">The method.</param>
/// <param name="Uri">The URL.</param>
/// <param name="Headers">Request and content headers, values joined with ", ".</param>
/// <param name="Body">The body as UTF-8 text, or null without one.</param>
public sealed record FakeRequest(int Number, HttpMethod Method, Uri Uri, IReadOnlyDictionary<string, string> Headers, string? Body);

/// <summary>
/// A scripted API as an <see cref="HttpMessageHandler"/>: give it to <see cref="TestRuntime.Start"/> (or to an
/// <see cref="HttpClient"/>) and it answers from a script, one step per request, then with <see cref="Default"/>. It records
/// every request and can require the access tokens of a <see cref="FakeAuthorizationServer"/>. Thread-safe.
/// </summary>
/// <example>
/// <code>
/// var api = new FakeApi().ThenStatus(HttpStatusCode.ServiceUnavailable).ThenJson("{\"id\":1}");
/// </code>
/// </example>
public sealed class FakeApi : HttpMessageHandler
{
    private readonly ConcurrentQueue<Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>>> _steps = new();
    private readonly ConcurrentQueue<FakeRequest> _received = new();
    private int _count;

    /// <summary>What requests past the end of the script get.</summary>
    /// <value>The default value answers 200 with <c>{"ok":true}</c>.</value>
    public Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Default { get; set; } = (_, _) => Task.FromResult(Json("{\"ok\":true}"));

    /// <summary>
    /// When set, a request whose bearer token this server does not accept (unknown, expired, revoked) is answered 401 with
    /// <c>WWW-Authenticate: Bearer error="invalid_token"</c> before the script runs, and does not use a step.
    /// </summary>
    /// <value>The default value is <see langword="null"/> (no token required).</value>
    public FakeAuthorizationServer? RequireTokensOf { get; set; }

    /// <summary>Called with every request as it arrives (after it is recorded): hand it to a TestProbe to wait on messages.</summary>
    public Action<FakeRequest>? OnRequest { get; set; }

    /// <summary>Requests received so far.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>The requests received so far, in order.</summary>
    public IReadOnlyList<FakeRequest> Received => [.. _received];

    /// <summary>Adds a step to the script.</summary>
    public FakeApi Then(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> step)
    {
        _steps.Enqueue(step ?? throw new ArgumentNullException(nameof(step)));
        return this;
    }

    /// <summary>Adds a step answering <paramref name="status"/>; <paramref name="configure"/> may add headers (Retry-After).</summary>
    public FakeApi ThenStatus(HttpStatusCode status, Action<HttpResponseMessage>? configure = null) => Then((_, _) =>
    {
        var response = new HttpResponseMessage(status) { Content = new StringContent($"{{\"status\":{(int)status}}}", Encoding.UTF8, "application/json") };
        configure?.Invoke(response);
        return Task.FromResult(response);
    });

    /// <summary>Adds a step answering 200 with a JSON body.</summary>
    public FakeApi ThenJson(string json) => Then((_, _) => Task.FromResult(Json(json)));

    /// <summary>Adds a step that fails like a lost connection.</summary>
    public FakeApi ThenConnectionLost() =>
        Then((_, _) => Task.FromException<HttpResponseMessage>(new HttpRequestException(HttpRequestError.ResponseEnded, "the connection was lost (scripted)")));

    /// <summary>Adds a step that never answers until the runtime cancels the attempt (timeouts).</summary>
    public FakeApi ThenHang() => Then(async (_, ct) =>
    {
        var never = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = ct.Register(() => never.TrySetCanceled(ct));
        return await never.Task.ConfigureAwait(false);
    });

    /// <summary>A 200 response with a JSON body.</summary>
    public static HttpResponseMessage Json(string json) => new(HttpStatusCode.OK) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _count);
        var body = request.Content is null ? null : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var (name, values) in request.Headers) headers[name] = string.Join(", ", values);
        if (request.Content is not null)
            foreach (var (name, values) in request.Content.Headers) headers[name] = string.Join(", ", values);
        var seen = new FakeRequest(number, request.Method, request.RequestUri!, headers, body);
        _received.Enqueue(seen);
        OnRequest?.Invoke(seen);

        if (RequireTokensOf is { } authority && !authority.Accepts(request.Headers.Authorization?.Parameter))
        {
            var refused = new HttpResponseMessage(HttpStatusCode.Unauthorized) { RequestMessage = request };
            refused.Headers.WwwAuthenticate.ParseAdd("Bearer error=\"invalid_token\"");
            return refused;
        }
        var step = _steps.TryDequeue(out var next) ? next : Default;
        var response = await step(request, cancellationToken).ConfigureAwait(false);
        response.RequestMessage ??= request;
        return response;
    }
}
