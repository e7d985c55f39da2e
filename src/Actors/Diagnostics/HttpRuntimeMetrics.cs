using System.Diagnostics.Metrics;

namespace Courier.Diagnostics;

/// <summary>
/// The runtime's counters on <see cref="System.Diagnostics.Metrics"/>: OpenTelemetry (or <c>dotnet-counters</c>)
/// reads them by the meter name <see cref="MeterName"/>, with no dependency here.
/// </summary>
public static class HttpRuntimeMetrics
{
    /// <summary>The name of the runtime's <see cref="Meter"/>.</summary>
    public const string MeterName = "Courier.Http";

    private static readonly Meter Meter = new(MeterName, "1.0");

    /// <summary><c>courier.http.calls</c>: calls accepted by the runtime.</summary>
    internal static readonly Counter<long> Calls = Meter.CreateCounter<long>("courier.http.calls", "{call}", "Calls accepted by the runtime");

    /// <summary><c>courier.http.attempts</c>: attempts sent (first attempts and retries).</summary>
    internal static readonly Counter<long> Attempts = Meter.CreateCounter<long>("courier.http.attempts", "{attempt}", "Attempts sent");

    /// <summary><c>courier.http.retries</c>: retries scheduled, tagged with the reason.</summary>
    internal static readonly Counter<long> Retries = Meter.CreateCounter<long>("courier.http.retries", "{retry}", "Retries scheduled");

    /// <summary><c>courier.http.failures</c>: calls that ended in an error, tagged with the reason.</summary>
    internal static readonly Counter<long> Failures = Meter.CreateCounter<long>("courier.http.failures", "{call}", "Calls that failed");

    internal static void Failed(string reason) => Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    internal static void Retried(string reason) => Retries.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
