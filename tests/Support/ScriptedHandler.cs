using System.Collections.Concurrent;
using System.Net;

namespace Courier.Tests.Support;

/// <summary>A request the scripted handler saw, with the virtual time it arrived at.</summary>
public sealed record SeenRequest(int Number, HttpMethod Method, Uri Uri, DateTimeOffset At, IReadOnlyDictionary<string, string> Headers, string? Body);

/// <summary>
/// An <see cref="HttpMessageHandler"/> that answers from a script, one step per request, and reports every request
/// to an observer actor (a TestProbe) so tests wait on messages, never on the clock.
/// Unit tests of a single actor only: integration tests use the real Sandbox server.
/// </summary>
public sealed class ScriptedHandler : HttpMessageHandler
{
    private readonly ConcurrentQueue<(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Step, bool ReadBody)> _steps = new();
    private readonly IActorRef _observer;
    private readonly Func<DateTimeOffset> _clock;
    private int _count;

    public ScriptedHandler(IActorRef observer, Func<DateTimeOffset> clock)
    {
        _observer = observer;
        _clock = clock;
    }

    /// <summary>What requests past the end of the script get.</summary>
    public Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Default { get; set; } = (_, _) => Task.FromResult(Ok());

    public int Count => Volatile.Read(ref _count);

    public ScriptedHandler Then(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> step)
    {
        _steps.Enqueue((step, true));
        return this;
    }

    /// <summary>
    /// Answers the next request with <paramref name="status"/> without reading its body, as a server that answers before
    /// an upload is done (the request is still reported, with a null body).
    /// </summary>
    public ScriptedHandler ThenAnswerUnread(HttpStatusCode status)
    {
        _steps.Enqueue(((_, _) => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent("{}") }), false));
        return this;
    }

    /// <summary>
    /// Runs <paramref name="step"/> for the next request without reading its body first: the step reads what it wants
    /// (a server that is still receiving the body when the test looks). The request is reported with a null body.
    /// </summary>
    public ScriptedHandler ThenUnread(Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> step)
    {
        _steps.Enqueue((step, false));
        return this;
    }

    public ScriptedHandler ThenStatus(HttpStatusCode status, Action<HttpResponseMessage>? configure = null) =>
        Then((_, _) =>
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent($"{{\"error\":{(int)status}}}") };
            configure?.Invoke(response);
            return Task.FromResult(response);
        });

    public ScriptedHandler ThenThrow(Exception error) => Then((_, _) => Task.FromException<HttpResponseMessage>(error));

    /// <summary>Never answers; completes only when the runtime cancels the attempt.</summary>
    public ScriptedHandler ThenHang() => Then(async (_, ct) =>
    {
        var never = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var registration = ct.Register(() => never.TrySetCanceled(ct));
        return await never.Task;
    });

    public static HttpResponseMessage Ok(string body = "{\"ok\":true}") =>
        new(HttpStatusCode.OK) { Content = new StringContent(body) };

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _count);
        var (step, readBody) = _steps.TryDequeue(out var next) ? next : (Default, true);
        var body = request.Content is null || !readBody ? null : await request.Content.ReadAsStringAsync(cancellationToken);
        var headers = request.Headers.ToDictionary(h => h.Key, h => string.Join(",", h.Value), StringComparer.OrdinalIgnoreCase);
        _observer.Tell(new SeenRequest(number, request.Method, request.RequestUri!, _clock(), headers, body));
        return await step(request, cancellationToken);
    }
}
