using System.Net;
using System.Net.Security;
using Courier.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Courier.Tests.Embedding;

/// <summary>The transport defaults: HTTP/2 where the server offers it, many calls over few connections.</summary>
public sealed class Http2Tests
{
    private static Task<LoopbackKestrel> StartAsync(bool https, HttpProtocols protocols, int? maxStreamsPerConnection = null) =>
        LoopbackKestrel.StartAsync(https, protocols, app => app.MapGet("/proto/{id}", (HttpContext c) => c.Request.Protocol), maxStreamsPerConnection);

    private static (ActorSystem System, HttpClient Http, SocketsHttpHandler Primary) StartRuntime(LoopbackKestrel server, Action<HttpRuntimeOptions>? configure = null,
        CourierClientOptions? client = null)
    {
        var options = new HttpRuntimeOptions { MaxConcurrentCalls = 256 };
        configure?.Invoke(options);
        var primary = HttpRuntime.CreatePrimaryHandler(options);
        if (server.Certificate is { } certificate)
        {
            // Trust exactly the certificate the test made, nothing else.
            primary.SslOptions.RemoteCertificateValidationCallback = (_, presented, _, errors) =>
                presented is not null && presented.GetCertHashString() == certificate.GetCertHashString();
        }
        var runtimeClient = new HttpClient(primary, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var system = ActorSystem.Create("h2-" + Guid.NewGuid().ToString("N")[..8], "akka.loglevel = WARNING");
        var actors = HttpRuntime.StartActors(system, options, () => runtimeClient, runtimeClient);
        var http = new HttpClient(new CourierDelegatingHandler(new HttpRuntimeClient(actors, options), client)) { BaseAddress = server.BaseAddress };
        return (system, http, primary);
    }

    [Fact]
    public async Task A_thousand_concurrent_calls_over_TLS_use_HTTP2_over_at_most_two_connections()
    {
        // A server that allows 500 streams per connection (Kestrel's default is 100; Go's 250, many CDNs more).
        await using var server = await StartAsync(https: true, HttpProtocols.Http1AndHttp2, maxStreamsPerConnection: 500);
        var (system, http, primary) = StartRuntime(server);
        try
        {
            Assert.Equal("HTTP/2", await http.GetStringAsync("/proto/warm")); // the first connection is up and its SETTINGS known
            var protocols = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => http.GetStringAsync($"/proto/{i}")));

            Assert.All(protocols, p => Assert.Equal("HTTP/2", p));
            // At most 256 calls in flight (the default cap) fit on one connection. The handler may open one more when, for an
            // instant, the streams still being released and the new ones exceed what it knows the first can take
            // (EnableMultipleHttp2Connections). HTTP/1.1 would have needed one connection per call in flight.
            Assert.InRange(server.Connections, 1, 2);
        }
        finally
        {
            http.Dispose();
            await system.Terminate();
            primary.Dispose();
        }
    }

    [Fact]
    public async Task A_server_without_HTTP2_is_spoken_to_in_HTTP11_by_default()
    {
        await using var server = await StartAsync(https: true, HttpProtocols.Http1);
        var (system, http, primary) = StartRuntime(server);
        try
        {
            Assert.Equal("HTTP/1.1", await http.GetStringAsync("/proto/1"));
        }
        finally
        {
            http.Dispose();
            await system.Terminate();
            primary.Dispose();
        }
    }

    [Fact]
    public async Task Plain_http_on_loopback_speaks_h2c_when_asked_and_HTTP11_otherwise()
    {
        await using var server = await StartAsync(https: false, HttpProtocols.Http1);
        await using var h2cServer = await StartAsync(https: false, HttpProtocols.Http2); // cleartext HTTP/2 is prior knowledge only
        var (system, http, primary) = StartRuntime(server);
        var (h2cSystem, h2cHttp, h2cPrimary) = StartRuntime(h2cServer, o => o.Http2PriorKnowledgeOnLoopback = true);
        try
        {
            Assert.Equal("HTTP/1.1", await http.GetStringAsync("/proto/1"));
            Assert.Equal("HTTP/2", await h2cHttp.GetStringAsync("/proto/2"));
        }
        finally
        {
            http.Dispose();
            h2cHttp.Dispose();
            await system.Terminate();
            await h2cSystem.Terminate();
            primary.Dispose();
            h2cPrimary.Dispose();
        }
    }

    [Fact]
    public async Task A_version_the_caller_chose_is_kept()
    {
        await using var server = await StartAsync(https: true, HttpProtocols.Http1AndHttp2);
        var (system, http, primary) = StartRuntime(server);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/proto/1") { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
            using var response = await http.SendAsync(request);
            Assert.Equal("HTTP/1.1", await response.Content.ReadAsStringAsync());
        }
        finally
        {
            http.Dispose();
            await system.Terminate();
            primary.Dispose();
        }
    }

    [Theory]
    [InlineData(false, "")]
    [InlineData(true, "session=s1")]
    public async Task Cookies_are_off_in_the_primary_handler_unless_asked(bool useCookies, string expected)
    {
        await using var server = await LoopbackKestrel.StartAsync(https: false, HttpProtocols.Http1, app =>
        {
            app.MapGet("/login", (HttpContext c) => { c.Response.Headers.SetCookie = "session=s1; Path=/"; return "ok"; });
            app.MapGet("/whoami", (HttpContext c) => c.Request.Headers.Cookie.ToString());
        });
        var (system, http, primary) = StartRuntime(server, o => o.UseCookies = useCookies);
        try
        {
            await http.GetStringAsync("/login");
            Assert.Equal(expected, await http.GetStringAsync("/whoami")); // off: one caller's session never reaches another's calls
        }
        finally
        {
            http.Dispose();
            await system.Terminate();
            primary.Dispose();
        }
    }
}
