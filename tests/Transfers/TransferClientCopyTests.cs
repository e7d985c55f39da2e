using System.Collections.Concurrent;
using System.Text;
using Akka.Hosting;
using Courier.Hosting;
using Courier.Transfers;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http.Logging;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Courier.Tests.Transfers;

/// <summary>
/// The Courier.Transfers client (a copy of the Courier client's configuration): what an application configures
/// on the <c>Courier</c> builder must reach transfers as it reaches calls, and switching the transfers' decompression off
/// must never change the calls' client.
/// </summary>
public sealed class TransferClientCopyTests : IAsyncLifetime
{
    private readonly TempFolder _folder = new();
    private CompressingServer _server = null!;

    private static readonly byte[] Content = CompressingServer.TextFile(lines: 4_000);

    public async Task InitializeAsync() => _server = await CompressingServer.StartAsync(Content);

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    private static IHost BuildHost(Action<IHttpClientBuilder>? client = null, Action<IServiceCollection>? services = null) =>
        CompressingServer.HostWithRuntime("transfer-client", builder => builder.Logging.AddFilter("System.Net.Http.HttpClient", LogLevel.Information), client, services);

    [Fact]
    public async Task A_download_first_does_not_switch_off_decompression_of_a_primary_handler_the_calls_share()
    {
        // The application's factory hands out one handler instance (ConfigurePrimaryHttpMessageHandler(() => handler)).
        using var shared = HttpRuntime.CreatePrimaryHandler(new HttpRuntimeOptions());
        using var host = BuildHost(http => http.ConfigurePrimaryHttpMessageHandler(() => shared));
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IHttpRuntimeClient>();

        await client.DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), _folder.File("first.txt")));
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, _server.Url("/text")));

        Assert.Equal(CompressingServer.Text, await response.Content.ReadAsStringAsync());
        var call = _server.Seen.Last();
        Assert.Contains("gzip", call.AcceptEncoding); // the calls' client still asks for (and decodes) compression
        Assert.Equal(System.Net.DecompressionMethods.All, shared.AutomaticDecompression);
        await host.StopAsync();
    }

    [Fact]
    public async Task RemoveAllLoggers_on_the_Courier_client_also_silences_the_transfers_request_logs()
    {
        var capture = new CapturingLoggerProvider();
        using var host = BuildHost(http => http.RemoveAllLoggers(), services => services.AddSingleton<ILoggerProvider>(capture));
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IHttpRuntimeClient>();

        using (await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, _server.Url("/text")))) { }
        await client.DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), _folder.File("quiet.txt")));

        Assert.DoesNotContain(capture.Categories, c => c.StartsWith("System.Net.Http.HttpClient.Courier.", StringComparison.Ordinal)
                                                       && c.Contains("Handler", StringComparison.Ordinal));
        await host.StopAsync();
    }

    [Fact]
    public async Task A_logger_added_to_the_Courier_client_with_AddLogger_sees_the_download_requests_too()
    {
        var seen = new ConcurrentQueue<string>();
        using var host = BuildHost(http => http.AddLogger(_ => new RecordingLogger(seen)));
        await host.StartAsync();

        await host.Services.GetRequiredService<IHttpRuntimeClient>().DownloadAsync(DownloadRequest.ToFile(_server.Url("/file"), _folder.File("logged.txt")));

        Assert.Equal([_server.Url("/file").AbsoluteUri], seen);
        await host.StopAsync();
    }

    private sealed class RecordingLogger(ConcurrentQueue<string> seen) : IHttpClientLogger
    {
        public object? LogRequestStart(HttpRequestMessage request)
        {
            seen.Enqueue(request.RequestUri!.AbsoluteUri);
            return null;
        }

        public void LogRequestStop(object? context, HttpRequestMessage request, HttpResponseMessage response, TimeSpan elapsed)
        {
        }

        public void LogRequestFailed(object? context, HttpRequestMessage request, HttpResponseMessage? response, Exception exception, TimeSpan elapsed)
        {
        }
    }

    private sealed class CapturingLoggerProvider : ILoggerProvider
    {
        public ConcurrentQueue<string> Categories { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Categories);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> categories) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                categories.Enqueue(category);
        }
    }
}
