using System.Diagnostics.Metrics;
using Akka.Hosting;
using Courier.Diagnostics;
using Courier.Hosting;
using Courier.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Diagnostics;

/// <summary>A hosted runtime takes its meter from the host's IMeterFactory and logs through the host's ILoggerFactory.</summary>
public sealed class HostedTelemetryTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>
{
    [Fact]
    public async Task The_hosted_runtime_measures_on_the_hosts_meter_factory_and_logs_through_its_logger_factory()
    {
        var logs = new System.Collections.Concurrent.ConcurrentQueue<(string Category, int EventId, string Message)>();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().AddProvider(new ListProvider(logs)).AddFilter("Courier", LogLevel.Information);
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Courier:BaseAddress"] = sandbox.Server.BaseAddress.ToString(),
            ["Courier:Retry:BaseDelay"] = "00:00:00.010",
        });
        builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName));
        builder.Services.AddAkka("telemetry-test", akka => akka.WithHttpRuntime());
        using var host = builder.Build();
        var meterFactory = host.Services.GetRequiredService<IMeterFactory>();
        using var calls = new MetricCollector<long>(meterFactory, HttpRuntimeMetrics.MeterName, "courier.http.calls");
        using var attempts = new MetricCollector<double>(meterFactory, HttpRuntimeMetrics.MeterName, "http.client.request.duration");
        await host.StartAsync();

        var request = new HttpRequestMessage(HttpMethod.Get, "/api/hosted-telemetry?token=s3cr3t");
        request.Headers.Add(SandboxHeaders.Key, "hosted-telemetry-" + Guid.NewGuid().ToString("N"));
        request.Headers.Add(SandboxHeaders.FailFirst, "1");
        using var response = await host.Services.GetRequiredService<IHttpRuntimeClient>().SendAsync(request);

        Assert.Equal(1, Assert.Single(calls.GetMeasurementSnapshot()).Value);
        Assert.Equal([503, 200], attempts.GetMeasurementSnapshot().Select(m => (int)m.Tags["http.response.status_code"]!));
        var retry = Assert.Single(logs, l => l.EventId == Log.Ids.CallRetrying);
        Assert.Equal("Courier.Requests", retry.Category);
        Assert.Contains("token=***", retry.Message);
        Assert.DoesNotContain(logs, l => l.Message.Contains("s3cr3t", StringComparison.Ordinal));
        await host.StopAsync();
    }

    private sealed class ListProvider(System.Collections.Concurrent.ConcurrentQueue<(string, int, string)> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class ListLogger(string category, System.Collections.Concurrent.ConcurrentQueue<(string, int, string)> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            lines.Enqueue((category, eventId.Id, formatter(state, exception)));
    }
}
