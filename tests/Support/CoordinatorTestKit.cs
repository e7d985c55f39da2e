using Akka.Event;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Diagnostics;
using Courier.Requests;

namespace Courier.Tests.Support;

/// <summary>
/// The set-up the request path's tests share: a TestScheduler, a scripted handler reporting every request it sees
/// to <see cref="Seen"/>, and a coordinator (or the whole runtime) over it without jitter; on demand, a probe playing the
/// TokenActor (<see cref="Tokens"/>) and probes on the event stream (<see cref="EventProbe{T}"/>).
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

    private TestProbe? _tokens;

    /// <summary>
    /// Plays the TokenActor for a coordinator started by <see cref="StartCoordinatorWithTokens"/>: it receives the
    /// calls' <c>GetToken</c> and <c>TokenRejected</c>, and the test answers each (<c>Tokens.Reply(new TokenGranted(...))</c>).
    /// </summary>
    protected TestProbe Tokens => _tokens ??= CreateTestProbe();

    /// <summary><see cref="Tokens"/> expects a <typeparamref name="T"/> (<c>GetToken</c>, <c>TokenRejected</c>) and answers it for <paramref name="call"/> with the token <c>access-{generation}</c> of <paramref name="generation"/>.</summary>
    protected void Grant<T>(HttpCall call, long generation)
    {
        Tokens.ExpectMsg<T>();
        Tokens.Reply(new TokenGranted(call.Id, "access-" + generation, generation));
    }

    /// <summary>A probe that receives every <typeparamref name="T"/> published on the event stream (e.g. <see cref="RetryScheduled"/>).</summary>
    protected TestProbe EventProbe<T>()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(T));
        return probe;
    }

    /// <summary>Options without jitter, so that delays are exact (100 ms, 200 ms, 400 ms...), then <paramref name="configure"/>.</summary>
    private static HttpRuntimeOptions Options(Action<HttpRuntimeOptions>? configure)
    {
        var options = new HttpRuntimeOptions();
        options.Retry.Jitter = JitterMode.None;
        configure?.Invoke(options);
        return options;
    }

    /// <summary>An HttpClient over <see cref="Handler"/> with no timeout of its own (the runtime's timeouts are under test).</summary>
    private HttpClient Client() => new(Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };

    /// <summary>A request runtime over <see cref="Handler"/> (no jitter, no HttpClient timeout), configured by <paramref name="configure"/>.</summary>
    private protected RequestRuntime Runtime(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null,
        CourierTelemetry? telemetry = null, IActorRef? tokens = null)
    {
        var options = Options(configure);
        var client = Client();
        return new RequestRuntime(options, () => client, log ?? Sys.Log) { Telemetry = telemetry ?? CourierTelemetry.Default, Tokens = tokens };
    }

    protected IActorRef StartCoordinator(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null) =>
        Sys.ActorOf(RequestCoordinator.Props(Runtime(configure, log)));

    /// <summary>
    /// A coordinator whose calls carry an access token they ask <see cref="Tokens"/> for: <c>Auth</c> is a default
    /// <see cref="TokenOptions"/>, which <paramref name="configure"/> may replace.
    /// </summary>
    protected IActorRef StartCoordinatorWithTokens(Action<HttpRuntimeOptions>? configure = null) =>
        Sys.ActorOf(RequestCoordinator.Props(Runtime(o => { o.Auth = new TokenOptions(); configure?.Invoke(o); }, tokens: Tokens.Ref)));

    /// <summary>
    /// The whole runtime as an application starts it (<c>HttpRuntime.StartActors</c>),
    /// over <see cref="Handler"/> without jitter and under a name of its own; returns its request coordinator.
    /// </summary>
    protected IActorRef StartRuntime(Action<HttpRuntimeOptions>? configure = null)
    {
        var client = Client();
        return HttpRuntime.StartActors(Sys, Options(configure), () => client, name: "requests-" + Guid.NewGuid().ToString("N")).Requests;
    }

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
