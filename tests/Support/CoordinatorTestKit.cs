using Akka.Actor;
using Akka.Event;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Diagnostics;
using Courier.Requests;
using Xunit.Abstractions;

namespace Courier.Tests.Support;

/// <summary>
/// The set-up the request coordinator's tests share: a TestScheduler, a scripted handler reporting every request it sees
/// to <see cref="Seen"/>, and a coordinator over it without jitter.
/// </summary>
public abstract class CoordinatorTestKit : TestKit
{
    protected CoordinatorTestKit(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        Seen = CreateTestProbe();
        Handler = new ScriptedHandler(Seen.Ref, () => Scheduler.Now);
    }

    /// <summary>Receives a <c>SeenRequest</c> for every request the handler gets.</summary>
    protected TestProbe Seen { get; }

    /// <summary>The scripted handler under the coordinator's HttpClient.</summary>
    protected ScriptedHandler Handler { get; }

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>A request runtime over <see cref="Handler"/> (no jitter, no HttpClient timeout), configured by <paramref name="configure"/>.</summary>
    private protected RequestRuntime Runtime(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null,
        CourierTelemetry? telemetry = null)
    {
        var options = new HttpRuntimeOptions();
        options.Retry.Jitter = JitterMode.None;
        configure?.Invoke(options);
        var client = new HttpClient(Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return new RequestRuntime(options, () => client, log ?? Sys.Log) { Telemetry = telemetry ?? CourierTelemetry.Default };
    }

    protected IActorRef StartCoordinator(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null) =>
        Sys.ActorOf(RequestCoordinator.Props(Runtime(configure, log)));

    /// <summary>A coordinator whose metrics, traces and logs go to <paramref name="telemetry"/>.</summary>
    private protected IActorRef StartCoordinator(CourierTelemetry telemetry, Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null) =>
        Sys.ActorOf(RequestCoordinator.Props(Runtime(configure, log, telemetry)));

    /// <summary>Returns once <paramref name="actor"/> has processed everything sent to it before.</summary>
    protected void Sync(IActorRef actor)
    {
        actor.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
    }

    /// <summary>A response that never comes: the request waits until it is cancelled.</summary>
    protected static async Task<HttpResponseMessage> Hang(CancellationToken ct)
    {
        await Task.Delay(Timeout.Infinite, ct);
        throw new InvalidOperationException("unreachable");
    }
}
