using Akka.Actor;
using Courier.Auth;

namespace Courier.Testing;

/// <summary>
/// Starts the runtime inside a test's actor system, with every call answered by a fake API and every token request by a
/// <see cref="FakeAuthorizationServer"/>. Give it a TestKit's <c>Sys</c> configured with
/// <c>akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"</c> (<see cref="TestSchedulerConfig"/>) and
/// retries, timeouts and refreshes run on virtual time: <c>Scheduler.Advance(...)</c> instead of waiting.
/// </summary>
public static class TestRuntime
{
    /// <summary>The HOCON line that puts an actor system on Akka.TestKit's TestScheduler.</summary>
    public const string TestSchedulerConfig = "akka.scheduler.implementation = \"Akka.TestKit.TestScheduler, Akka.TestKit\"";

    /// <summary>Starts the runtime (a unique coordinator name, so a test may start several).</summary>
    /// <param name="system">The test's actor system.</param>
    /// <param name="api">Answers every call and every request of a file transfer (a <see cref="FakeApi"/> or any handler;
    /// transfers get what it returns as it returns it: give it no automatic decompression).</param>
    /// <param name="authorization">When given, the runtime authenticates against it; see <paramref name="grant"/>.</param>
    /// <param name="grant">With <paramref name="authorization"/>: <see cref="TokenWireFormat.Json"/> or <see cref="TokenWireFormat.OAuth2"/>
    /// refresh tokens (a user is logged in with <see cref="FakeAuthorizationServer.IssueTokens"/>), or null for the client
    /// credentials grant.</param>
    /// <param name="configure">Changes the options last (the defaults here: no jitter, so retry delays are exact).</param>
    public static TestRuntimeHandle Start(ActorSystem system, HttpMessageHandler api, FakeAuthorizationServer? authorization = null,
        TokenWireFormat? grant = TokenWireFormat.Json, Action<HttpRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(api);
        var options = new HttpRuntimeOptions();
        options.Retry.Jitter = Requests.JitterMode.None;
        if (authorization is not null)
        {
            options.Auth = grant switch
            {
                null => new TokenOptions
                {
                    Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = FakeAuthorizationServer.OAuthTokenEndpoint,
                    ClientId = authorization.ClientId ?? "test-client", ClientSecret = authorization.ClientSecret,
                },
                TokenWireFormat.OAuth2 => Login(authorization, new TokenOptions
                {
                    Format = TokenWireFormat.OAuth2, RefreshEndpoint = FakeAuthorizationServer.OAuthTokenEndpoint,
                    ClientId = authorization.ClientId, ClientSecret = authorization.ClientSecret,
                }),
                _ => Login(authorization, new TokenOptions { RefreshEndpoint = FakeAuthorizationServer.JsonRefreshEndpoint }),
            };
        }
        configure?.Invoke(options);
        var calls = new HttpClient(api, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var tokens = new HttpClient((HttpMessageHandler?)authorization ?? new FakeApi(), disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var actors = HttpRuntime.StartActors(system, options, () => calls, tokens, "courier-test-" + Guid.NewGuid().ToString("N")[..8]);
        return new TestRuntimeHandle(actors, new HttpRuntimeClient(actors, options), options);
    }

    private static TokenOptions Login(FakeAuthorizationServer authorization, TokenOptions options)
    {
        var (access, refresh) = authorization.IssueTokens();
        options.AccessToken = access;
        options.RefreshToken = refresh;
        return options;
    }
}

/// <summary>A runtime started by <see cref="TestRuntime.Start"/>.</summary>
/// <param name="Actors">Its actors (coordinator, TokenActor, transfers), for tests that talk to them.</param>
/// <param name="Client">The facade, as the code under test would get it from DI.</param>
/// <param name="Options">The options it runs with.</param>
public sealed record TestRuntimeHandle(HttpRuntimeActors Actors, IHttpRuntimeClient Client, HttpRuntimeOptions Options)
{
    /// <summary>An <see cref="HttpClient"/> whose requests run through the runtime (as <c>AddCourier</c> sets up in DI).</summary>
    public HttpClient CreateHttpClient(Uri? baseAddress = null, Hosting.CourierClientOptions? options = null) =>
        new(new Hosting.CourierDelegatingHandler(Client, options)) { BaseAddress = baseAddress };
}
