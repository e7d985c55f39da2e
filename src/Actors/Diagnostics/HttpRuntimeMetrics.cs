using System.Diagnostics.Metrics;

namespace Courier.Diagnostics;

/// <summary>
/// The runtime's instruments on <see cref="System.Diagnostics.Metrics"/>: OpenTelemetry (or <c>dotnet-counters</c>)
/// reads them by the meter name <see cref="MeterName"/>, with no dependency here. A hosted runtime creates its meter from
/// <see cref="IMeterFactory"/> (so a host or a test can isolate it); one started with <see cref="HttpRuntime"/> uses a
/// process-wide meter of the same name. README, "Observability", lists every instrument.
/// </summary>
public static class HttpRuntimeMetrics
{
    /// <summary>The name of the runtime's <see cref="Meter"/>.</summary>
    public const string MeterName = "Courier.Http";

    /// <summary>The version of the meter.</summary>
    internal const string MeterVersion = "1.0";

    // Obsolete forwards to the process-wide instruments, kept only so that code not yet moved to CallTelemetry builds.
    internal static Counter<long> Calls => CourierMetrics.Default.Calls;

    internal static Counter<long> Attempts => CourierMetrics.Default.Attempts;

    internal static void Failed(string reason) => CourierMetrics.Default.Failed(reason);

    internal static void Retried(string reason) => CourierMetrics.Default.Retried(reason);
}

/// <summary>
/// The instruments of one runtime (one <see cref="Meter"/>): <see cref="Default"/> for runtimes started without a host,
/// or one made from the host's <see cref="IMeterFactory"/>.
/// </summary>
internal sealed class CourierMetrics
{
    // The OpenTelemetry HTTP conventions' advice for http.client.request.duration, used for every duration here.
    private static readonly double[] DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 30, 60];
    private static readonly int[] AttemptBuckets = [1, 2, 3, 4, 5, 6, 8, 10, 15, 20];

    public static readonly CourierMetrics Default = new(new Meter(HttpRuntimeMetrics.MeterName, HttpRuntimeMetrics.MeterVersion));

    public CourierMetrics(Meter meter)
    {
        Meter = meter;
        // The four counters the runtime had first: same names, units and tags.
        Calls = meter.CreateCounter<long>("courier.http.calls", "{call}", "Calls accepted by the runtime");
        Attempts = meter.CreateCounter<long>("courier.http.attempts", "{attempt}", "Attempts sent");
        Retries = meter.CreateCounter<long>("courier.http.retries", "{retry}", "Retries scheduled");
        Failures = meter.CreateCounter<long>("courier.http.failures", "{call}", "Calls that failed");

        AttemptDuration = meter.CreateHistogram<double>("http.client.request.duration", "s",
            "Duration of one HTTP request the runtime sent (one attempt of a call)", advice: new() { HistogramBucketBoundaries = DurationBuckets });
        CallDuration = meter.CreateHistogram<double>("courier.http.call.duration", "s",
            "Duration of a call from its acceptance to its answer: queueing, token waits, every attempt and retry delay",
            advice: new() { HistogramBucketBoundaries = DurationBuckets });
        QueueWait = meter.CreateHistogram<double>("courier.http.call.queue_wait", "s",
            "Time a call waited for a free slot before its first attempt", advice: new() { HistogramBucketBoundaries = DurationBuckets });
        AttemptsPerCall = meter.CreateHistogram<int>("courier.http.call.attempts", "{attempt}",
            "Requests sent for one call (first attempt, retries, the resend after a refresh, redirects)",
            advice: new() { HistogramBucketBoundaries = AttemptBuckets });
        ActiveCalls = meter.CreateUpDownCounter<long>("courier.http.active_calls", "{call}", "Calls running (past the queue, not yet answered)");
        QueuedCalls = meter.CreateUpDownCounter<long>("courier.http.queued_calls", "{call}", "Calls waiting in the runtime's queue for a free slot");
        RefreshDuration = meter.CreateHistogram<double>("courier.token.refresh.duration", "s",
            "Duration of a token refresh, from its start to the new token or the failure (tagged with its outcome)",
            advice: new() { HistogramBucketBoundaries = DurationBuckets });
        TransferBytes = meter.CreateCounter<long>("courier.transfer.bytes", "By", "Bytes moved by uploads and downloads");
        TransferDuration = meter.CreateHistogram<double>("courier.transfer.duration", "s", "Duration of a transfer, resumes included",
            advice: new() { HistogramBucketBoundaries = DurationBuckets });
        Hosts = new HostTelemetry(meter);
    }

    public Meter Meter { get; }
    public Counter<long> Calls { get; }
    public Counter<long> Attempts { get; }
    public Counter<long> Retries { get; }
    public Counter<long> Failures { get; }
    public Histogram<double> AttemptDuration { get; }
    public Histogram<double> CallDuration { get; }
    public Histogram<double> QueueWait { get; }
    public Histogram<int> AttemptsPerCall { get; }
    public UpDownCounter<long> ActiveCalls { get; }
    public UpDownCounter<long> QueuedCalls { get; }
    public Histogram<double> RefreshDuration { get; }
    public Counter<long> TransferBytes { get; }
    public Histogram<double> TransferDuration { get; }
    public HostTelemetry Hosts { get; }

    public void Failed(string reason) => Failures.Add(1, new KeyValuePair<string, object?>("reason", reason));

    public void Retried(string reason) => Retries.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
