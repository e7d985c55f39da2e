using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Courier.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// Everything the runtime of one actor system emits: the spans of the <c>Courier</c> source (all of them: tests filter by
/// trace id, since the listener is process-wide), every measurement of the meter made from this capture's own
/// <see cref="IMeterFactory"/>, and every log line, with its event id.
/// </summary>
internal sealed class TelemetryCapture : IDisposable
{
    private readonly ActivityListener _activities;
    private readonly MeterListener _meters;
    private readonly ServiceProvider _services;

    public TelemetryCapture()
    {
        _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        MeterFactory = _services.GetRequiredService<IMeterFactory>();
        LoggerFactory = Microsoft.Extensions.Logging.LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new CaptureProvider(Logs)));

        _activities = new ActivityListener
        {
            // HttpClient's own spans too: they must be children of the attempts.
            ShouldListenTo = source => source.Name is CourierActivities.SourceName or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => Stopped.Enqueue(activity),
        };
        ActivitySource.AddActivityListener(_activities);

        _meters = new MeterListener
        {
            InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == HttpRuntimeMetrics.MeterName && instrument.Meter.Scope == MeterFactory) listener.EnableMeasurementEvents(instrument);
            },
        };
        _meters.SetMeasurementEventCallback<long>((i, v, t, _) => Measurements.Enqueue(new(i.Name, v, t.ToArray())));
        _meters.SetMeasurementEventCallback<int>((i, v, t, _) => Measurements.Enqueue(new(i.Name, v, t.ToArray())));
        _meters.SetMeasurementEventCallback<double>((i, v, t, _) => Measurements.Enqueue(new(i.Name, v, t.ToArray())));
        _meters.Start();
    }

    public IMeterFactory MeterFactory { get; }

    public ILoggerFactory LoggerFactory { get; }

    public ConcurrentQueue<Activity> Stopped { get; } = new();

    public ConcurrentQueue<Measurement> Measurements { get; } = new();

    public ConcurrentQueue<LogLine> Logs { get; } = new();

    /// <summary>Installs this capture's meter factory and logger factory for the runtime on <paramref name="system"/>.</summary>
    public void InstallOn(ActorSystem system) => CourierTelemetry.Install(system, MeterFactory, LoggerFactory);

    /// <summary>The value of tag <paramref name="tag"/> on every measurement of <paramref name="instrument"/>, in the order recorded.</summary>
    public List<string?> TagValues(string instrument, string tag) =>
        Measurements.Where(m => m.Instrument == instrument).Select(m => m.Tag(tag) as string).ToList();

    public IReadOnlyList<Activity> InTrace(ActivityTraceId traceId) => Stopped.Where(s => s.TraceId == traceId).ToList();

    /// <summary>Every string the capture holds for these spans, the measurements and the logs: names, tags, events, links, messages.</summary>
    public IEnumerable<string> EverythingExported(IEnumerable<Activity> spans)
    {
        foreach (var span in spans)
        {
            yield return span.DisplayName;
            yield return span.StatusDescription ?? "";
            foreach (var tag in span.TagObjects) yield return tag.Key + "=" + tag.Value;
            foreach (var e in span.Events)
            {
                yield return e.Name;
                foreach (var tag in e.Tags) yield return tag.Key + "=" + tag.Value;
            }
            foreach (var link in span.Links)
                foreach (var tag in link.Tags ?? []) yield return tag.Key + "=" + tag.Value;
            foreach (var baggage in span.Baggage) yield return baggage.Key + "=" + baggage.Value;
        }
        foreach (var m in Measurements)
            foreach (var tag in m.Tags) yield return m.Instrument + ":" + tag.Key + "=" + tag.Value;
        foreach (var log in Logs) yield return log.Category + ": " + log.Message + " " + log.Exception;
    }

    public void Dispose()
    {
        _activities.Dispose();
        _meters.Dispose();
        LoggerFactory.Dispose();
        _services.Dispose();
    }

    public sealed record Measurement(string Instrument, double Value, KeyValuePair<string, object?>[] Tags)
    {
        public object? Tag(string name) => Tags.FirstOrDefault(t => t.Key == name).Value;
    }

    public sealed record LogLine(string Category, LogLevel Level, EventId EventId, string Message, string? Exception);

    private sealed class CaptureProvider(ConcurrentQueue<LogLine> lines) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new CaptureLogger(categoryName, lines);

        public void Dispose()
        {
        }
    }

    private sealed class CaptureLogger(string category, ConcurrentQueue<LogLine> lines) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var message = formatter(state, exception);
            // Structured values too: what a structured sink would export.
            if (state is IEnumerable<KeyValuePair<string, object?>> values)
                message += " | " + string.Join(", ", values.Select(v => v.Key + "=" + v.Value));
            lines.Enqueue(new LogLine(category, logLevel, eventId, message, exception?.ToString()));
        }
    }
}
