using System.Net;
using System.Text.Json;
using Akka.Actor;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;
using Courier.Sandbox;
using Courier.Tests.Support;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Courier.Tests.Integration;

/// <summary>The TokenActor against the Sandbox's authorization server, which rotates refresh tokens and revokes a whole
/// family when one is used twice (RFC 9700): any double refresh shows up as a reuse event and failed calls.</summary>
public sealed class AuthIntegrationTests
{
    private static async Task<(SandboxServer Server, LoopbackRuntime Runtime)> StartAsync(TokenWireFormat format,
        Action<SandboxAuthOptions>? server = null, Action<TokenOptions>? auth = null)
    {
        var sandboxOptions = new SandboxOptions();
        server?.Invoke(sandboxOptions.Auth);
        var sandbox = await SandboxServer.StartAsync(sandboxOptions);
        var (access, refresh, _) = sandbox.Auth.IssueTokens();
        var runtime = LoopbackRuntime.Start(o =>
        {
            o.MaxConcurrentCalls = 512;
            o.Auth = new TokenOptions
            {
                Format = format,
                RefreshEndpoint = new Uri(sandbox.BaseAddress, format == TokenWireFormat.OAuth2 ? "/oauth/token" : "/auth/refresh"),
                ClientId = format == TokenWireFormat.OAuth2 ? sandboxOptions.Auth.ClientId : null,
                ClientSecret = format == TokenWireFormat.OAuth2 ? sandboxOptions.Auth.ClientSecret : null,
                AccessToken = access,
                RefreshToken = refresh,
            };
            auth?.Invoke(o.Auth);
        });
        return (sandbox, runtime);
    }

    [Theory]
    [InlineData(TokenWireFormat.Json)]
    [InlineData(TokenWireFormat.OAuth2)]
    public async Task A_hundred_expiries_under_500_concurrent_calls_refresh_once_each_with_no_reuse_and_no_failure(TokenWireFormat format)
    {
        var (sandbox, runtime) = await StartAsync(format);
        await using var _ = sandbox;
        await using var __ = runtime;
        const int rounds = 100;
        var failures = 0;
        var errors = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();

        for (var round = 0; round < rounds; round++)
        {
            sandbox.Auth.ExpireAccessTokens();
            var calls = Enumerable.Range(0, 500).Select(async i =>
            {
                try
                {
                    using var response = await runtime.Client.SendAsync(HttpCall.Get(new Uri(sandbox.BaseAddress, $"/secure/orders/{i}")));
                }
                catch (HttpCallException ex)
                {
                    Interlocked.Increment(ref failures);
                    errors.AddOrUpdate($"{ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
                }
            });
            await Task.WhenAll(calls);
        }

        Assert.True(failures == 0, $"{failures} calls failed: " + string.Join(" | ", errors.OrderByDescending(e => e.Value).Take(5).Select(e => $"{e.Value}x {e.Key}")));
        Assert.Equal(0, sandbox.Auth.ReuseEvents);
        Assert.Equal(rounds, sandbox.Auth.RefreshesPerformed);
        Assert.Equal(rounds, (await runtime.Client.GetTokenStatusAsync()).Refreshes);
    }

    [Fact]
    public async Task A_restart_with_the_file_store_continues_with_the_rotated_refresh_token()
    {
        var folder = Directory.CreateTempSubdirectory("courier-store-");
        try
        {
            var storePath = Path.Combine(folder.FullName, "tokens.json");
            var (sandbox, first) = await StartAsync(TokenWireFormat.Json, auth: a => a.TokenStorePath = storePath);
            await using var _ = sandbox;
            var url = new Uri(sandbox.BaseAddress, "/secure/profile");

            sandbox.Auth.ExpireAccessTokens();
            (await first.Client.SendAsync(HttpCall.Get(url))).Dispose();
            Assert.Equal(1, sandbox.Auth.RefreshesPerformed);
            await first.DisposeAsync();

            // The configured refresh token was rotated away; a second process must use the stored one.
            var (access, refresh, _) = ("stale", "stale-refresh-token", 0);
            var second = LoopbackRuntime.Start(o => o.Auth = new TokenOptions
            {
                RefreshEndpoint = new Uri(sandbox.BaseAddress, "/auth/refresh"),
                AccessToken = access,
                RefreshToken = refresh,
                TokenStorePath = storePath,
            });
            await using var ___ = second;
            sandbox.Auth.ExpireAccessTokens();
            using var response = await second.Client.SendAsync(HttpCall.Get(url));

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(2, sandbox.Auth.RefreshesPerformed);
            Assert.Equal(0, sandbox.Auth.ReuseEvents);
            if (!OperatingSystem.IsWindows())
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(storePath));
            Assert.DoesNotContain(Directory.GetFiles(folder.FullName), f => f.Contains(".tmp-"));
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_corrupt_store_file_is_a_clear_authentication_error_not_a_crash_loop()
    {
        var folder = Directory.CreateTempSubdirectory("courier-store-");
        try
        {
            var storePath = Path.Combine(folder.FullName, "tokens.json");
            await File.WriteAllTextAsync(storePath, "{ this is not json");
            var (sandbox, runtime) = await StartAsync(TokenWireFormat.Json, auth: a => a.TokenStorePath = storePath);
            await using var _ = sandbox;
            await using var __ = runtime;

            var error = await Assert.ThrowsAsync<AuthenticationFailedException>(() =>
                runtime.Client.SendAsync(HttpCall.Get(new Uri(sandbox.BaseAddress, "/secure/x"))));

            Assert.Contains("tokens.json", error.Message);
            Assert.Contains("not valid JSON", error.Message);
            Assert.Equal("SignedOut", (await runtime.Client.GetTokenStatusAsync()).State);
            Assert.Equal(0, sandbox.Counters.For(SandboxHeaders.DefaultKey).Requests);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task A_definitive_refresh_failure_fails_the_calls_and_publishes_AuthenticationFailed_once()
    {
        var (sandbox, runtime) = await StartAsync(TokenWireFormat.OAuth2);
        await using var _ = sandbox;
        await using var __ = runtime;
        var events = new List<object>();
        var drained = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = runtime.System.ActorOf(Props.Create(() => new Collector(events, drained)));
        runtime.System.EventStream.Subscribe(listener, typeof(AuthenticationFailed));
        runtime.System.EventStream.Subscribe(listener, typeof(Marker));
        sandbox.Auth.RevokeAll();
        sandbox.Auth.ExpireAccessTokens();

        var outcomes = await Task.WhenAll(Enumerable.Range(0, 100).Select(async i =>
        {
            try { (await runtime.Client.SendAsync(HttpCall.Get(new Uri(sandbox.BaseAddress, $"/secure/{i}")))).Dispose(); return null; }
            catch (AuthenticationFailedException e) { return e; }
        }));

        Assert.All(outcomes, e => Assert.Contains("invalid_grant", Assert.IsType<AuthenticationFailedException>(e).Message));
        // The TokenActor published before it answered; a marker published now reaches the listener after that event.
        await runtime.Client.GetTokenStatusAsync();
        runtime.System.EventStream.Publish(new Marker());
        await drained.Task.WaitAsync(TimeSpan.FromSeconds(10));
        lock (events) Assert.Single(events.OfType<AuthenticationFailed>());
        Assert.Equal(0, sandbox.Auth.RefreshesPerformed);
    }

    [Fact]
    public async Task Seed_style_custom_header_and_403_trigger_work_end_to_end()
    {
        var (sandbox, runtime) = await StartAsync(TokenWireFormat.Json,
            server: s => s.ExpiredStatusCode = 403,
            auth: a => { a.HeaderName = SandboxHeaders.AccessToken; a.Scheme = null; a.TriggerStatusCodes = [403]; });
        await using var _ = sandbox;
        await using var __ = runtime;

        sandbox.Auth.ExpireAccessTokens();
        var responses = await Task.WhenAll(Enumerable.Range(0, 50).Select(i =>
            runtime.Client.SendAsync(HttpCall.Get(new Uri(sandbox.BaseAddress, $"/secure/{i}")))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(1, sandbox.Auth.RefreshesPerformed);
        Assert.Equal(0, sandbox.Auth.ReuseEvents);
    }

    [Theory]
    [InlineData("Authorization", "Bearer")]
    [InlineData("accessToken", null)]
    public async Task The_token_follows_a_same_origin_redirect_but_never_a_cross_origin_one(string header, string? scheme)
    {
        await using var other = await EchoServer.StartAsync();
        await using var origin = await EchoServer.StartAsync(redirectTo: other.BaseAddress);
        await using var runtime = LoopbackRuntime.Start(o => o.Auth = new TokenOptions
        {
            AccessToken = "the-access-token",
            HeaderName = header,
            Scheme = scheme,
        });

        using var same = await runtime.Client.SendAsync(HttpCall.Get(new Uri(origin.BaseAddress, "/redirect-here")));
        using var cross = await runtime.Client.SendAsync(HttpCall.Get(new Uri(origin.BaseAddress, "/redirect-away")));

        var sameHeaders = JsonDocument.Parse(await same.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("/landing", sameHeaders.GetProperty("path").GetString());
        Assert.Contains("the-access-token", sameHeaders.GetProperty("headers").GetProperty(header.ToLowerInvariant()).GetString());

        var crossHeaders = JsonDocument.Parse(await cross.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("/landing", crossHeaders.GetProperty("path").GetString());
        Assert.Equal(other.BaseAddress.Port, crossHeaders.GetProperty("port").GetInt32());
        Assert.False(crossHeaders.GetProperty("headers").TryGetProperty(header.ToLowerInvariant(), out var leaked), $"token leaked: {leaked}");
    }

    private sealed record Marker;

    private sealed class Collector : ReceiveActor
    {
        public Collector(List<object> sink, TaskCompletionSource drained)
        {
            Receive<Marker>(_ => drained.TrySetResult());
            ReceiveAny(m => { lock (sink) sink.Add(m); });
        }
    }

    /// <summary>A minimal real Kestrel server: echoes path, port and headers; redirects same-origin or to another server.</summary>
    private sealed class EchoServer : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private EchoServer(WebApplication app, Uri baseAddress)
        {
            _app = app;
            BaseAddress = baseAddress;
        }

        public Uri BaseAddress { get; }

        public static async Task<EchoServer> StartAsync(Uri? redirectTo = null)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            app.MapGet("/redirect-here", () => Results.Redirect("/landing"));
            if (redirectTo is not null) app.MapGet("/redirect-away", () => Results.Redirect(new Uri(redirectTo, "/landing").ToString()));
            app.MapGet("/landing", (HttpContext context) => Results.Json(new
            {
                path = context.Request.Path.Value,
                port = context.Connection.LocalPort,
                headers = context.Request.Headers.ToDictionary(h => h.Key.ToLowerInvariant(), h => h.Value.ToString()),
            }));
            await app.StartAsync();
            var address = app.Urls.First();
            return new EchoServer(app, new Uri(address));
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
