using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Akka.Hosting;
using Courier.Auth;
using Courier.Hosting;
using Courier.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Refit;

namespace Courier.Tests.Embedding;

/// <summary>A Refit interface over the Sandbox's protected echo resource.</summary>
public interface ISecureEchoApi
{
    [Get("/secure/refit/{id}")]
    Task<EchoAnswer> GetAsync(int id);
}

/// <summary>What the Sandbox's echo answers (the fields the tests read).</summary>
public sealed record EchoAnswer(string Method, string Path, string? Body, int Attempt, int? TokenGeneration);

/// <summary>A typed client, the way services write them.</summary>
public sealed class SecureEchoClient(HttpClient http)
{
    public async Task<EchoAnswer> GetAsync(int id) =>
        (await http.GetFromJsonAsync<EchoAnswer>($"/secure/typed/{id}", JsonSerializerOptions.Web))!;
}

/// <summary>Existing HttpClient code (Refit, typed clients, plain clients) sending through the runtime via AddCourier.</summary>
public sealed class HandlerTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>
{
    [Fact]
    public async Task A_thousand_concurrent_refit_and_typed_client_calls_on_an_expired_token_make_one_refresh_and_all_succeed()
    {
        var options = new SandboxOptions();
        await using var server = await SandboxServer.StartAsync(options);
        var (access, refresh, _) = server.Auth.IssueTokens();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddHttpRuntime(configure: o =>
        {
            o.MaxConcurrentCalls = 256;
            o.Auth = new TokenOptions { RefreshEndpoint = new Uri(server.BaseAddress, "/auth/refresh"), AccessToken = access, RefreshToken = refresh };
        });
        builder.Services.AddRefitGeneratedClient<ISecureEchoApi>().ConfigureHttpClient(c => c.BaseAddress = server.BaseAddress).AddCourier();
        builder.Services.AddHttpClient<SecureEchoClient>(c => c.BaseAddress = server.BaseAddress).AddCourier();
        builder.Services.AddAkka("embedding-" + Guid.NewGuid().ToString("N")[..8], akka => akka.WithHttpRuntime());
        using var host = builder.Build();
        await host.StartAsync();
        var refit = host.Services.GetRequiredService<ISecureEchoApi>();
        var typed = host.Services.GetRequiredService<SecureEchoClient>();
        Assert.Equal(1, (await refit.GetAsync(0)).TokenGeneration); // warm: the first token works

        server.Auth.ExpireAccessTokens();
        var answers = await Task.WhenAll(Enumerable.Range(0, 1000).Select(i => i % 2 == 0 ? refit.GetAsync(i) : typed.GetAsync(i)));

        Assert.All(answers, a => Assert.Equal("GET", a.Method));
        Assert.Equal(1, server.Auth.RefreshesPerformed);
        Assert.Equal(0, server.Auth.ReuseEvents);
        Assert.All(answers, a => Assert.Equal(2, a.TokenGeneration)); // every call ended with the one refreshed token
        await host.StopAsync();
    }

    [Fact]
    public async Task An_error_status_comes_back_as_a_response_so_refit_and_EnsureSuccessStatusCode_see_it()
    {
        await using var runtime = LoopbackRuntime.Start(o => o.Retry.MaxRetries = 1);
        using var http = Through(runtime);
        var key = "status-" + Guid.NewGuid().ToString("N");
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/status");
        request.Headers.Add(SandboxHeaders.Key, key);
        request.Headers.Add(SandboxHeaders.FailFirst, "5");
        request.Headers.Add(SandboxHeaders.FaultStatus, "503");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Contains("injected", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, sandbox.Server.Counters.For(key).Requests); // the first attempt and one retry
        Assert.Same(request, response.RequestMessage);
    }

    [Fact]
    public async Task A_failure_other_than_a_status_throws_an_HttpRequestException_carrying_the_runtime_error()
    {
        await using var runtime = LoopbackRuntime.Start(o => o.Retry.MaxRetries = 0);
        using var http = Through(runtime);
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/abort");
        request.Headers.Add(SandboxHeaders.Key, "abort-" + Guid.NewGuid().ToString("N"));
        request.Headers.Add(SandboxHeaders.AbortFirst, "1");
        request.Options.Set(HttpCallOptions.Completion, HttpCompletionOption.ResponseContentRead); // the cut-off body is seen inside the attempt

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => http.SendAsync(request));

        Assert.IsType<Errors.HttpTransportException>(error.InnerException);
    }

    // ---- request bodies -------------------------------------------------------------------------------------

    [Fact]
    public async Task A_byte_array_body_is_buffered_once_and_replayed_on_the_retry()
    {
        var echo = await PutFailingFirstAsync("/api/bytes", "bytes-", new ByteArrayContent("hello, twice"u8.ToArray()));

        Assert.Equal(2, echo.Attempt);
        Assert.Equal("hello, twice", echo.Body);
    }

    [Fact]
    public async Task A_short_stream_of_unknown_length_is_buffered_and_replayed()
    {
        var echo = await PutFailingFirstAsync("/api/short", "short-", new StreamContent(new UnknownLengthStream(Encoding.UTF8.GetBytes("short stream"))));

        Assert.Equal(2, echo.Attempt);
        Assert.Equal("short stream", echo.Body);
    }

    [Theory]
    [InlineData(true)]   // known length past the limit: not read before the send
    [InlineData(false)]  // unknown length, found past the limit while buffering
    public async Task A_body_longer_than_the_limit_is_sent_once_and_not_retried_after_it_may_have_been_sent(bool knownLength)
    {
        await using var runtime = LoopbackRuntime.Start();
        using var http = Through(runtime, new CourierClientOptions { MaxBufferedRequestBodyBytes = 1024 });
        var key = "once-" + Guid.NewGuid().ToString("N");
        var payload = Encoding.ASCII.GetBytes(new string('x', 4096));
        Stream source = knownLength ? new MemoryStream(payload) : new UnknownLengthStream(payload);
        using var request = new HttpRequestMessage(HttpMethod.Put, "/api/once") { Content = new StreamContent(source) };
        request.Headers.Add(SandboxHeaders.Key, key);
        request.Headers.Add(SandboxHeaders.FailFirst, "1");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode); // a PUT would be retried, but the body cannot be sent again
        Assert.Equal(1, sandbox.Server.Counters.For(key).Requests);

        // The same body within the limit is retried: the limit is what decided.
        using var again = new HttpRequestMessage(HttpMethod.Put, "/api/once") { Content = new StreamContent(new UnknownLengthStream(payload[..1000])) };
        var key2 = key + "-small";
        again.Headers.Add(SandboxHeaders.Key, key2);
        again.Headers.Add(SandboxHeaders.FailFirst, "1");
        using var ok = await http.SendAsync(again);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        Assert.Equal(2, sandbox.Server.Counters.For(key2).Requests);
    }

    [Fact]
    public async Task A_body_past_the_limit_arrives_whole_when_sent_once()
    {
        await using var runtime = LoopbackRuntime.Start();
        using var http = Through(runtime, new CourierClientOptions { MaxBufferedRequestBodyBytes = 100 });
        var text = string.Concat(Enumerable.Range(0, 500).Select(i => (char)('a' + i % 26)));
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/whole") { Content = new StreamContent(new UnknownLengthStream(Encoding.ASCII.GetBytes(text))) };

        using var response = await http.SendAsync(request);

        var echo = await response.Content.ReadFromJsonAsync<EchoAnswer>(JsonSerializerOptions.Web);
        Assert.Equal(text, echo!.Body); // the 101 bytes read while deciding, then the rest of the stream
    }

    /// <summary>An HttpClient on the Sandbox whose requests go through <paramref name="runtime"/> (the handler AddCourier installs).</summary>
    private HttpClient Through(LoopbackRuntime runtime, CourierClientOptions? options = null) =>
        new(new CourierDelegatingHandler(runtime.Client, options)) { BaseAddress = sandbox.Server.BaseAddress };

    /// <summary>PUTs <paramref name="content"/> through a runtime to a fresh Sandbox key whose first attempt fails; what the echo saw.</summary>
    private async Task<EchoAnswer> PutFailingFirstAsync(string path, string keyPrefix, HttpContent content)
    {
        await using var runtime = LoopbackRuntime.Start();
        using var http = Through(runtime);
        using var request = new HttpRequestMessage(HttpMethod.Put, path) { Content = content };
        request.Headers.Add(SandboxHeaders.Key, keyPrefix + Guid.NewGuid().ToString("N"));
        request.Headers.Add(SandboxHeaders.FailFirst, "1");

        using var response = await http.SendAsync(request);

        return (await response.Content.ReadFromJsonAsync<EchoAnswer>(JsonSerializerOptions.Web))!;
    }

    /// <summary>A stream that cannot seek and does not know its length (a network or pipe stream).</summary>
    internal sealed class UnknownLengthStream(byte[] data) : Stream
    {
        private int _position;
        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count)
        {
            var n = Math.Min(count, Math.Min(37, data.Length - _position)); // short reads, as sockets give
            Array.Copy(data, _position, buffer, offset, n);
            _position += n;
            return n;
        }
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
