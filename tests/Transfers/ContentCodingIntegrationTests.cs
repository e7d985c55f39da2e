using System.Collections.Concurrent;
using System.IO.Compression;
using System.Net;
using System.Text;
using Akka.Hosting;
using Courier.Hosting;
using Courier.Host.Cli;
using Courier.Transfers;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Courier.Tests.Transfers;

/// <summary>
/// Downloads from a server that compresses whenever the request allows it (nginx <c>gzip on</c>, ASP.NET response
/// compression, a CDN): a download asks for the identity coding, so the file arrives as its bytes, with a length a
/// <c>Range</c> can resume; an ordinary call through the same runtime still gets a decoded body.
/// </summary>
public sealed class ContentCodingIntegrationTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private CompressingServer _server = null!;

    public async Task InitializeAsync() => _server = await CompressingServer.StartAsync(Content);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    private static readonly byte[] Content = CompressingServer.TextFile(lines: 40_000);

    private static readonly Dictionary<string, string?> FastRetries = new()
    {
        ["Courier:Retry:BaseDelay"] = "00:00:00.010",
        ["Courier:Retry:Jitter"] = "None",
    };

    private static IHost BuildHost(Action<IHttpClientBuilder>? client = null, Action<IServiceCollection>? services = null) =>
        CompressingServer.HostWithRuntime("content-coding", builder => builder.Configuration.AddInMemoryCollection(FastRetries), client, services);

    [Fact]
    public async Task A_hosted_download_asks_for_identity_and_gets_the_exact_file_bytes()
    {
        using var host = BuildHost();
        await host.StartAsync();
        var destination = _folder.File("hosted.txt");

        var completed = await host.Services.GetRequiredService<IHttpRuntimeClient>().DownloadAsync(
            DownloadRequest.ToFile(_server.Url("/file"), destination) with { ComputeSha256 = true });

        Assert.Equal(Content, await File.ReadAllBytesAsync(destination));
        Assert.Equal(TempFolder.Sha256(Content), completed.Sha256);
        var request = Assert.Single(_server.Seen);
        Assert.Equal("identity", request.AcceptEncoding);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_hosted_download_cut_mid_way_resumes_with_a_range_instead_of_starting_over()
    {
        _server.CutFirstHalfway = true;
        using var host = BuildHost();
        await host.StartAsync();
        var destination = _folder.File("resumed.txt");

        await host.Services.GetRequiredService<IHttpRuntimeClient>().DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), destination));

        Assert.Equal(Content, await File.ReadAllBytesAsync(destination));
        var requests = _server.Seen.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.All(requests, r => Assert.Equal("identity", r.AcceptEncoding));
        Assert.Null(requests[0].Range);
        Assert.NotNull(requests[1].Range);
        Assert.StartsWith("bytes=", requests[1].Range);
        Assert.NotEqual("bytes=0-", requests[1].Range);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_delegating_handler_added_to_the_Courier_client_sees_the_download_requests_too()
    {
        var seen = new ConcurrentQueue<string>();
        using var host = BuildHost(http => http.AddHttpMessageHandler(() => new RecordingHandler(seen)));
        await host.StartAsync();

        await host.Services.GetRequiredService<IHttpRuntimeClient>().DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), _folder.File("seen.txt")));

        Assert.Equal([_server.Url("/file").AbsoluteUri], seen);
        await host.StopAsync();
    }

    [Fact]
    public async Task A_handler_every_client_gets_from_ConfigureHttpClientDefaults_sees_a_download_request_once()
    {
        var seen = new ConcurrentQueue<string>();
        using var host = BuildHost(services: s => s.ConfigureHttpClientDefaults(all => all.AddHttpMessageHandler(() => new RecordingHandler(seen))));
        await host.StartAsync();

        await host.Services.GetRequiredService<IHttpRuntimeClient>().DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), _folder.File("once.txt")));

        Assert.Single(seen); // in the transfer client's copy of the Courier client once, not also on its own
        Assert.Equal("identity", Assert.Single(_server.Seen).AcceptEncoding);
        await host.StopAsync();
    }

    [Fact]
    public async Task An_ordinary_call_through_the_hosted_runtime_still_gets_a_decoded_body()
    {
        using var host = BuildHost();
        await host.StartAsync();

        using var response = await host.Services.GetRequiredService<IHttpRuntimeClient>().SendAsync(new HttpRequestMessage(HttpMethod.Get, _server.Url("/text")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(CompressingServer.Text, await response.Content.ReadAsStringAsync());
        var request = Assert.Single(_server.Seen);
        Assert.Contains("gzip", request.AcceptEncoding);
        Assert.True(request.Compressed); // the server did compress: the runtime decoded it
        await host.StopAsync();
    }

    [Fact]
    public async Task The_CLI_runtime_downloads_the_exact_bytes_asking_for_identity_and_resumes_a_cut_with_a_range()
    {
        _server.CutFirstHalfway = true;
        await using var runtime = await RuntimeHost.StartAsync(FastRetries, verbose: false);
        var destination = _folder.File("cli.txt");

        await runtime.Client.DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), destination));

        Assert.Equal(Content, await File.ReadAllBytesAsync(destination));
        var requests = _server.Seen.ToArray();
        Assert.Equal(2, requests.Length);
        Assert.All(requests, r => Assert.Equal("identity", r.AcceptEncoding));
        Assert.NotNull(requests[1].Range);
        Assert.NotEqual("bytes=0-", requests[1].Range);
    }

    [Fact]
    public async Task An_ordinary_call_through_the_CLI_runtime_still_gets_a_decoded_body()
    {
        await using var runtime = await RuntimeHost.StartAsync(FastRetries, verbose: false);

        using var response = await runtime.Client.SendAsync(new HttpRequestMessage(HttpMethod.Get, _server.Url("/text")));

        Assert.Equal(CompressingServer.Text, await response.Content.ReadAsStringAsync());
        Assert.True(Assert.Single(_server.Seen).Compressed);
    }

    private sealed class RecordingHandler(ConcurrentQueue<string> seen) : DelegatingHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            seen.Enqueue(request.RequestUri!.AbsoluteUri);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

/// <summary>
/// A real Kestrel server on 127.0.0.1 that gzip-compresses every answer whose request allows gzip (as nginx with
/// <c>gzip on</c> does, ranges then ignored), and otherwise serves the file with a strong ETag and byte ranges.
/// </summary>
internal sealed class CompressingServer : IAsyncDisposable
{
    public const string Text = "{\"message\":\"a body the server compresses whenever it may, repeated repeated repeated repeated\"}";

    /// <summary>A text file of <paramref name="lines"/> lines that gzip shrinks a lot, so a decoded body and the file differ in length.</summary>
    public static byte[] TextFile(int lines) => Encoding.UTF8.GetBytes(string.Concat(
        Enumerable.Range(0, lines).Select(i => $"line {i:D6}: the quick brown fox jumps over the lazy dog\n")));

    /// <summary>
    /// A host with the runtime registered as an application does (<c>AddHttpRuntime</c> bound to the <c>Courier</c> section,
    /// <c>WithHttpRuntime</c>), no log providers; <paramref name="setup"/> adds configuration or log filters,
    /// <paramref name="client"/> configures the <c>Courier</c> client, <paramref name="services"/> anything else.
    /// </summary>
    public static IHost HostWithRuntime(string name, Action<HostApplicationBuilder>? setup = null, Action<IHttpClientBuilder>? client = null,
        Action<IServiceCollection>? services = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        setup?.Invoke(builder);
        var http = builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName));
        client?.Invoke(http);
        services?.Invoke(builder.Services);
        builder.Services.AddAkka(name + "-" + Guid.NewGuid().ToString("N")[..8], akka => akka.WithHttpRuntime());
        return builder.Build();
    }

    private readonly WebApplication _app;
    private readonly byte[] _content;
    private readonly ConcurrentQueue<CodedRequest> _seen = new();
    private int _fileRequests;

    private CompressingServer(WebApplication app, byte[] content)
    {
        _app = app;
        _content = content;
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>The first answer for /file breaks the connection half-way through its body.</summary>
    public bool CutFirstHalfway { get; set; }

    /// <summary>Every request, in order.</summary>
    public IReadOnlyCollection<CodedRequest> Seen => _seen;

    public Uri Url(string path) => new(BaseAddress, path);

    public static async Task<CompressingServer> StartAsync(byte[] content)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var server = new CompressingServer(app, content);
        app.MapGet("/file", server.FileAsync);
        app.MapGet("/text", server.TextAsync);
        await app.StartAsync();
        var port = new Uri(app.Urls.First()).Port;
        server.BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        return server;
    }

    private async Task FileAsync(HttpContext context)
    {
        var request = context.Request;
        var compress = AcceptsGzip(request.Headers.AcceptEncoding.ToString());
        _seen.Enqueue(new CodedRequest(request.Path, request.Headers.AcceptEncoding.ToString(), request.Headers.Range.FirstOrDefault(), compress));
        var first = Interlocked.Increment(ref _fileRequests) == 1;
        var response = context.Response;
        response.Headers.Vary = "Accept-Encoding";
        byte[] body;
        if (compress)
        {
            body = Gzip(_content);
            response.StatusCode = 200;
            response.Headers.ETag = "\"v1-gzip\"";
            response.Headers.ContentEncoding = "gzip";
        }
        else
        {
            response.Headers.ETag = "\"v1\"";
            response.Headers.AcceptRanges = "bytes";
            var from = RangeStart(request.Headers.Range.FirstOrDefault());
            if (from is { } start && start < _content.Length)
            {
                response.StatusCode = 206;
                response.Headers.ContentRange = $"bytes {start}-{_content.Length - 1}/{_content.Length}";
                body = _content[(int)start..];
            }
            else
            {
                response.StatusCode = 200;
                body = _content;
            }
        }
        response.ContentType = "text/plain";
        response.ContentLength = body.Length;
        if (first && CutFirstHalfway)
        {
            await response.Body.WriteAsync(body.AsMemory(0, body.Length / 2));
            await response.Body.FlushAsync();
            context.Abort();
            return;
        }
        await response.Body.WriteAsync(body);
    }

    private async Task TextAsync(HttpContext context)
    {
        var compress = AcceptsGzip(context.Request.Headers.AcceptEncoding.ToString());
        _seen.Enqueue(new CodedRequest(context.Request.Path, context.Request.Headers.AcceptEncoding.ToString(), null, compress));
        var body = Encoding.UTF8.GetBytes(Text);
        if (compress)
        {
            body = Gzip(body);
            context.Response.Headers.ContentEncoding = "gzip";
        }
        context.Response.ContentType = "application/json";
        context.Response.ContentLength = body.Length;
        await context.Response.Body.WriteAsync(body);
    }

    /// <summary>Does an <c>Accept-Encoding</c> value allow gzip (listed, or <c>*</c>, with a non-zero q)?</summary>
    private static bool AcceptsGzip(string acceptEncoding)
    {
        foreach (var member in acceptEncoding.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = member.Split(';', StringSplitOptions.TrimEntries);
            if (parts[0] is not ("gzip" or "*")) continue;
            var zero = parts.Skip(1).Any(p => p.Replace(" ", "") is "q=0" or "q=0.0" or "q=0.00" or "q=0.000");
            return !zero;
        }
        return false;
    }

    private static long? RangeStart(string? range) =>
        range is not null && range.StartsWith("bytes=", StringComparison.Ordinal) && range.EndsWith('-')
        && long.TryParse(range.AsSpan(6, range.Length - 7), out var start) ? start : null;

    private static byte[] Gzip(byte[] bytes)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest)) gzip.Write(bytes);
        return output.ToArray();
    }

    public async ValueTask DisposeAsync() => await _app.DisposeAsync();
}

/// <summary>What <see cref="CompressingServer"/> saw of one request, and whether it compressed the answer.</summary>
internal sealed record CodedRequest(string Path, string AcceptEncoding, string? Range, bool Compressed);
