using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Akka.Actor;
using Microsoft.Extensions.Logging;

namespace Courier.Diagnostics;

/// <summary>
/// What one actor system's runtime reports through: its instruments and its loggers. The hosting code installs one
/// made from the host's <see cref="IMeterFactory"/> and <see cref="ILoggerFactory"/> before it starts the actors; a
/// runtime started without a host gets the process-wide meter and logs through Akka's logging, as before.
/// </summary>
internal sealed class CourierTelemetry
{
    private static readonly ConditionalWeakTable<ActorSystem, CourierTelemetry> BySystem = new();

    /// <summary>Telemetry for runtimes without a host: the process-wide meter, and logs through Akka's logging.</summary>
    public static readonly CourierTelemetry Default = new(CourierMetrics.Default, loggerFactory: null);

    private CourierTelemetry(CourierMetrics metrics, ILoggerFactory? loggerFactory)
    {
        Metrics = metrics;
        LoggerFactory = loggerFactory;
        if (loggerFactory is null) return;
        Requests = loggerFactory.CreateLogger("Courier.Requests");
        Tokens = loggerFactory.CreateLogger("Courier.Auth");
        Transfers = loggerFactory.CreateLogger("Courier.Transfers");
    }

    public CourierMetrics Metrics { get; }

    /// <summary>The host's logger factory, or null: then each actor logs through Akka's logging (<see cref="AkkaLogger"/>).</summary>
    public ILoggerFactory? LoggerFactory { get; }

    /// <summary>Category <c>Courier.Requests</c>, or null without a logger factory.</summary>
    public ILogger? Requests { get; }

    /// <summary>Category <c>Courier.Auth</c>, or null without a logger factory.</summary>
    public ILogger? Tokens { get; }

    /// <summary>Category <c>Courier.Transfers</c>, or null without a logger factory.</summary>
    public ILogger? Transfers { get; }

    /// <summary>The telemetry installed for <paramref name="system"/>, or <see cref="Default"/>.</summary>
    public static CourierTelemetry For(ActorSystem system) =>
        BySystem.TryGetValue(system, out var telemetry) ? telemetry : Default;

    /// <summary>
    /// Installs the host's meter factory and logger factory for the runtime on <paramref name="system"/>; call it before the
    /// runtime's actors start. Either may be null (the process-wide meter, or Akka's logging, is used instead).
    /// </summary>
    public static CourierTelemetry Install(ActorSystem system, IMeterFactory? meterFactory, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(system);
        var metrics = meterFactory is null ? CourierMetrics.Default
            : new CourierMetrics(meterFactory.Create(new MeterOptions(HttpRuntimeMetrics.MeterName) { Version = HttpRuntimeMetrics.MeterVersion }));
        var telemetry = new CourierTelemetry(metrics, loggerFactory);
        BySystem.AddOrUpdate(system, telemetry);
        return telemetry;
    }
}
