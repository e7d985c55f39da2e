using System.Collections.Concurrent;
using Courier.Host.Cli;
using Courier.Sandbox;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>The CLI exports over OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is set, and not otherwise.</summary>
[Collection(nameof(ConsoleCapture))] // redirects Console, and sets process environment variables
public sealed class OtlpExportTests : IAsyncLifetime
{
    private SandboxServer _sandbox = null!;
    private WebApplication _collector = null!;
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _received = new();

    public async Task InitializeAsync()
    {
        _sandbox = await SandboxServer.StartAsync();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        _collector = builder.Build();
        _collector.Run(async context =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            _received.Enqueue((context.Request.Path.Value ?? "", body.ToArray()));
            context.Response.StatusCode = 200;
        });
        await _collector.StartAsync();
    }

    public async Task DisposeAsync()
    {
        await _collector.DisposeAsync();
        await _sandbox.DisposeAsync();
    }

    [Fact]
    public async Task Traces_and_metrics_go_to_the_otlp_endpoint_only_when_it_is_set()
    {
        var url = new Uri(_sandbox.BaseAddress, "/api/otlp?secret=s3cr3t").ToString();

        var without = await ConsoleCapture.RunAsync(["request", "GET", url]);
        Assert.Equal(ExitCodes.Success, without.Code);
        Assert.Empty(_received);

        Environment.SetEnvironmentVariable(OtlpExport.EndpointVariable, _collector.Urls.First());
        Environment.SetEnvironmentVariable("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf");
        try
        {
            var with = await ConsoleCapture.RunAsync(["request", "GET", url, "-H", $"{SandboxHeaders.FailFirst}: 1", "-H", $"{SandboxHeaders.Key}: otlp-{Guid.NewGuid():N}"]);
            Assert.Equal(ExitCodes.Success, with.Code);
        }
        finally
        {
            Environment.SetEnvironmentVariable(OtlpExport.EndpointVariable, null);
            Environment.SetEnvironmentVariable("OTEL_EXPORTER_OTLP_PROTOCOL", null);
        }

        // The host flushes both providers when it stops, before the command returns.
        var traces = _received.Where(r => r.Path == "/v1/traces").ToList();
        Assert.NotEmpty(traces);
        var spans = System.Text.Encoding.Latin1.GetString(traces.SelectMany(t => t.Body).ToArray());
        Assert.Contains("Courier", spans);           // the instrumentation scope
        Assert.Contains("url.full", spans);
        Assert.Contains("secret=***", spans);
        Assert.DoesNotContain("s3cr3t", spans);
        Assert.Contains(_received, r => r.Path == "/v1/metrics");
    }
}
