using Courier.Sandbox;

namespace Courier.Tests.Support;

/// <summary>
/// A real runtime over real sockets: its own ActorSystem (real scheduler), a SocketsHttpHandler like production's, and
/// the caller's Sandbox server. Dispose stops both the runtime and the handler.
/// </summary>
public sealed class LoopbackRuntime : IAsyncDisposable
{
    private readonly SocketsHttpHandler _handler;

    private LoopbackRuntime(ActorSystem system, SocketsHttpHandler handler, HttpRuntimeActors actors, HttpRuntimeClient client)
    {
        System = system;
        _handler = handler;
        Actors = actors;
        Client = client;
    }

    public ActorSystem System { get; }

    /// <summary>The runtime's actors, for tests that talk to them directly.</summary>
    public HttpRuntimeActors Actors { get; }

    public HttpRuntimeClient Client { get; }

    /// <summary>Starts a runtime with fast retries (10 ms base, no jitter) unless <paramref name="configure"/> says otherwise.</summary>
    /// <param name="configure">Changes to the options.</param>
    /// <param name="beforeStart">Runs on the new actor system before the runtime starts (tests install telemetry there).</param>
    public static LoopbackRuntime Start(Action<HttpRuntimeOptions>? configure = null, Action<ActorSystem>? beforeStart = null)
    {
        var options = new HttpRuntimeOptions();
        options.Retry.BaseDelay = TimeSpan.FromMilliseconds(10);
        options.Retry.MaxDelay = TimeSpan.FromMilliseconds(100);
        options.Retry.Jitter = Courier.Requests.JitterMode.None;
        configure?.Invoke(options);
        var system = ActorSystem.Create("loopback-" + Guid.NewGuid().ToString("N")[..8], "akka.loglevel = WARNING\nakka.log-dead-letters = off");
        beforeStart?.Invoke(system);
        var handler = HttpRuntime.CreatePrimaryHandler(options);
        var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var actors = HttpRuntime.StartActors(system, options, () => client, client);
        return new LoopbackRuntime(system, handler, actors, new HttpRuntimeClient(actors, options));
    }

    public async ValueTask DisposeAsync()
    {
        await System.Terminate();
        _handler.Dispose();
    }
}

/// <summary>One Sandbox server per test class.</summary>
public sealed class SandboxFixture : IAsyncDisposable, Xunit.IAsyncLifetime
{
    public SandboxServer Server { get; private set; } = null!;

    public Uri Url(string relative) => new(Server.BaseAddress, relative);

    public async Task InitializeAsync() => Server = await SandboxServer.StartAsync();

    async Task Xunit.IAsyncLifetime.DisposeAsync() => await Server.DisposeAsync();

    public ValueTask DisposeAsync() => Server.DisposeAsync();
}
