using Courier.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Courier.Host.Cli;

/// <summary>
/// Exports the runtime's traces and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard variable;
/// the exporter also reads <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>...,
/// from the CLI's configuration: appsettings.json, then the environment). Without it nothing is created: no listener, no
/// exporter, nothing paid.
/// </summary>
internal static class OtlpExport
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    /// <summary>The tracer and meter providers, or null when no endpoint is configured; disposing them flushes both.</summary>
    public static IDisposable? StartIfConfigured(IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration[EndpointVariable])) return null;
        void Resource(ResourceBuilder resource)
        {
            if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"])) resource.AddService(serviceName: "courier-cli");
        }
        var tracing = Sdk.CreateTracerProviderBuilder()
            .ConfigureServices(services => services.AddSingleton(configuration))
            .ConfigureResource(Resource)
            .AddSource(CourierActivities.SourceName)
            .AddSource("System.Net.Http") // HttpClient's own span under each attempt
            .AddOtlpExporter()
            .Build();
        var metrics = Sdk.CreateMeterProviderBuilder()
            .ConfigureServices(services => services.AddSingleton(configuration))
            .ConfigureResource(Resource)
            .AddMeter(HttpRuntimeMetrics.MeterName)
            .AddOtlpExporter()
            .Build();
        return new Providers(tracing, metrics);
    }

    private sealed class Providers(TracerProvider tracing, MeterProvider metrics) : IDisposable
    {
        public void Dispose()
        {
            tracing.Dispose();
            metrics.Dispose();
        }
    }
}
