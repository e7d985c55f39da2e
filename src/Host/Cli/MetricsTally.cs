using System.Diagnostics.Metrics;
using Courier.Diagnostics;

namespace Courier.Host.Cli;

/// <summary>Reads the runtime's own counters (<see cref="HttpRuntimeMetrics.MeterName"/>) for the summaries.</summary>
internal sealed class MetricsTally : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _calls, _attempts, _retries, _failures;

    public MetricsTally()
    {
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (instrument.Meter.Name == HttpRuntimeMetrics.MeterName) listener.EnableMeasurementEvents(instrument);
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
        {
            switch (instrument.Name)
            {
                case "courier.http.calls": Interlocked.Add(ref _calls, value); break;
                case "courier.http.attempts": Interlocked.Add(ref _attempts, value); break;
                case "courier.http.retries": Interlocked.Add(ref _retries, value); break;
                case "courier.http.failures": Interlocked.Add(ref _failures, value); break;
            }
        });
        _listener.Start();
    }

    public long Calls => Interlocked.Read(ref _calls);
    public long Attempts => Interlocked.Read(ref _attempts);
    public long Retries => Interlocked.Read(ref _retries);
    public long Failures => Interlocked.Read(ref _failures);

    public void Dispose() => _listener.Dispose();
}
