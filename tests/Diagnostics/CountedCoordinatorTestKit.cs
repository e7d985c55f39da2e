using Akka.Event;
using Courier.Diagnostics;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// The coordinator's set-up (<see cref="CoordinatorTestKit"/>) with its metrics going to a <see cref="TelemetryCapture"/>
/// of the test's own, disposed with the test.
/// </summary>
public abstract class CountedCoordinatorTestKit(ITestOutputHelper output) : CoordinatorTestKit(output)
{
    private protected TelemetryCapture Capture { get; } = new();

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Capture.Dispose();
    }

    /// <summary>A coordinator whose metrics go to <see cref="Capture"/> (no logger factory: the request path logs through Akka's adapter, <paramref name="log"/> when given).</summary>
    protected IActorRef StartCounted(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null) =>
        StartCoordinator(CourierTelemetry.Install(Sys, Capture.MeterFactory, loggerFactory: null), configure, log);
}
