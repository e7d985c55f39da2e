using Akka.Actor;
using Courier.Requests;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Bench.Scenarios;

/// <summary>
/// One of the clients the HTTP scenario compares. All of them use their own <see cref="SocketsHttpHandler"/> (their own
/// connection pool) built by <see cref="HttpRuntime.CreatePrimaryHandler"/>, so the handler settings are identical
/// and only what sits above the handler differs.
/// </summary>
internal abstract class HttpTarget : IAsyncDisposable
{
    /// <summary>The label in the table, e.g. <c>(a) HttpClient</c>.</summary>
    public abstract string Name { get; }

    /// <summary>GETs <paramref name="uri"/>, reads the body to the end and disposes the response; throws on a non-2xx.</summary>
    public abstract Task GetAsync(Uri uri, CancellationToken cancellationToken);

    public abstract ValueTask DisposeAsync();

    /// <summary>
    /// The same body handling for every client. The response is already buffered (all three complete on
    /// <see cref="HttpCompletionOption.ResponseContentRead"/>, the default of both <see cref="HttpClient.GetAsync(Uri)"/>
    /// and <see cref="HttpCall"/>), so this reads the buffer through the content stream into <see cref="Stream.Null"/>:
    /// every byte is read and no per-call copy of the body is made that would blur the allocation figures.
    /// </summary>
    protected static async Task ReadToEndAsync(HttpResponseMessage response, CancellationToken cancellationToken)
    {
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            await body.CopyToAsync(Stream.Null, cancellationToken).ConfigureAwait(false);
        }
    }

    protected static HttpRuntimeOptions RuntimeOptions(int maxConcurrency) => new()
    {
        // Never the bottleneck: the runtime must admit every worker's call at once, as the other clients do.
        MaxConcurrentCalls = Math.Max(maxConcurrency, new HttpRuntimeOptions().MaxConcurrentCalls),
    };
}

/// <summary>(a) The baseline: a plain <see cref="HttpClient"/> over the runtime's primary handler.</summary>
internal sealed class RawHttpTarget(int maxConcurrency, HttpMessageHandler? handler = null) : HttpTarget
{
    private readonly HttpClient _client = new(handler ?? HttpRuntime.CreatePrimaryHandler(RuntimeOptions(maxConcurrency)), disposeHandler: handler is null);

    public override string Name => "(a) HttpClient";

    public override async Task GetAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        await ReadToEndAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public override ValueTask DisposeAsync()
    {
        _client.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// (b) The usual alternative: <see cref="IHttpClientFactory"/> with Microsoft.Extensions.Http.Resilience's standard
/// pipeline (rate limiter, total timeout, retry, circuit breaker, attempt timeout), as an application would set it up.
/// </summary>
internal sealed class ResilienceHttpTarget : HttpTarget
{
    private readonly ServiceProvider _services;
    private readonly HttpClient _client;

    public ResilienceHttpTarget(int maxConcurrency)
    {
        var services = new ServiceCollection();
        services.AddHttpClient("b")
            .ConfigurePrimaryHttpMessageHandler(() => HttpRuntime.CreatePrimaryHandler(RuntimeOptions(maxConcurrency)))
            // The factory would otherwise replace the handler (and its connection pool) every 2 minutes, in the
            // middle of a run; (a) and (c) keep one pool for the whole benchmark, so (b) does too.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            // Defaults: its concurrency limiter admits 1,000 calls and queues none, more than any --concurrency here.
            .AddStandardResilienceHandler();
        _services = services.BuildServiceProvider();
        // One client for the whole run: CreateClient per call is cheap but is not what is being compared.
        _client = _services.GetRequiredService<IHttpClientFactory>().CreateClient("b");
    }

    public override string Name => "(b) HttpClient + resilience";

    public override async Task GetAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _client.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        await ReadToEndAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _services.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>(c) This runtime: every call goes through the coordinator actor and its own RequestActor.</summary>
internal sealed class CourierHttpTarget : HttpTarget
{
    private readonly ActorSystem _system;
    private readonly HttpClient _client;
    private readonly HttpRuntimeClient _runtime;

    /// <param name="handler">The handler under the runtime (a canned one for the <c>overhead</c> scenario), or null for
    /// the runtime's primary handler.</param>
    public CourierHttpTarget(int maxConcurrency, HttpMessageHandler? handler = null)
    {
        var options = RuntimeOptions(maxConcurrency);
        // Infinite: the runtime enforces its own attempt timeout and deadline, as HttpRuntime.Start(handler) does.
        _client = new HttpClient(handler ?? HttpRuntime.CreatePrimaryHandler(options), disposeHandler: handler is null) { Timeout = Timeout.InfiniteTimeSpan };
        _system = ActorSystem.Create("bench", "akka.loglevel = WARNING\n" + Environment.GetEnvironmentVariable("COURIER_BENCH_HOCON"));
        _runtime = HttpRuntime.Start(_system, options, () => _client);
    }

    public override string Name => "(c) Courier runtime";

    public override async Task GetAsync(Uri uri, CancellationToken cancellationToken)
    {
        using var response = await _runtime.SendAsync(HttpCall.Get(uri), cancellationToken).ConfigureAwait(false);
        await ReadToEndAsync(response, cancellationToken).ConfigureAwait(false);
    }

    public override async ValueTask DisposeAsync()
    {
        await _system.Terminate().ConfigureAwait(false);
        _client.Dispose();
    }
}
