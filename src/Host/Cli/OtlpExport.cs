using Courier.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Courier.Host.Cli;

/// <summary>
/// Exports the runtime's traces and metrics over OTLP when <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set (the standard variable;
/// the exporter also reads <c>OTEL_EXPORTER_OTLP_PROTOCOL</c>, <c>OTEL_EXPORTER_OTLP_HEADERS</c>, <c>OTEL_SERVICE_NAME</c>...).
/// Without it nothing is registered: no listener, no exporter, nothing paid.
/// </summary>
internal static class OtlpExport
{
    public const string EndpointVariable = "OTEL_EXPORTER_OTLP_ENDPOINT";

    public static bool AddIfConfigured(IServiceCollection services, IConfiguration configuration)
    {
        if (string.IsNullOrWhiteSpace(configuration[EndpointVariable])) return false;
        services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                if (string.IsNullOrWhiteSpace(configuration["OTEL_SERVICE_NAME"])) resource.AddService(serviceName: "courier-cli");
            })
            .WithTracing(tracing => tracing
                .AddSource(CourierActivities.SourceName)
                .AddSource("System.Net.Http") // HttpClient's own span under each attempt
                .AddOtlpExporter())
            .WithMetrics(metrics => metrics
                .AddMeter(HttpRuntimeMetrics.MeterName)
                .AddOtlpExporter());
        return true;
    }
}
