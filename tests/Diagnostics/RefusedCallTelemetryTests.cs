using System.Net;
using Akka.Event;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// Calls the coordinator answers itself (never sent, or cut short by a stop or a crash) still show in the metrics: one
/// failure and one call duration each, tagged with why (<c>courier.outcome</c>: invalid_request, queue_full, cancelled,
/// deadline, runtime), so a dashboard counts refused calls as failures of the right kind.
/// </summary>
public sealed class RefusedCallTelemetryTests(ITestOutputHelper output) : CountedCoordinatorTestKit(output)
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    /// <summary>A counted coordinator without retries over a handler that never answers (a throwing log for the crash).</summary>
    private new IActorRef StartCounted(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null)
    {
        Handler.Default = (_, ct) => Hang(ct);
        return base.StartCounted(o =>
        {
            o.Retry.MaxRetries = 0;
            configure?.Invoke(o);
        }, log);
    }

    private List<string?> Outcomes(string instrument, string tag) => Capture.TagValues(instrument, tag);

    /// <summary>The outcome of every call duration recorded, and the reason of every failure counted, in order.</summary>
    private (List<string?> Durations, List<string?> Failures) Recorded() =>
        (Outcomes("courier.http.call.duration", "courier.outcome"), Outcomes("courier.http.failures", "reason"));

    [Fact]
    public void Calls_refused_before_the_queue_are_counted_as_invalid_requests()
    {
        var coordinator = StartCounted();

        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Get, new Uri("ftp://files.example.test/a.txt"))));
        Assert.IsType<InvalidHttpCallException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(["invalid_request"], Recorded().Durations);
        Assert.Equal(["invalid_request"], Recorded().Failures);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { Credential = "billing" }));
        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<InvalidHttpCallException>(failed.Error);
        Assert.Contains("no credential named 'billing' is configured (Courier:Credentials:billing)", error.Message);
        Assert.Equal(0, failed.Attempts);
        Assert.Equal(["invalid_request", "invalid_request"], Recorded().Durations);
        Assert.Equal(["invalid_request", "invalid_request"], Recorded().Failures);
        Assert.Equal(0, Handler.Count);
        Assert.Equal(2, Capture.Measurements.Count(m => m.Instrument == "courier.http.calls"));
    }

    [Fact]
    public void A_duplicate_a_full_queue_a_cancel_and_a_deadline_in_the_queue_are_each_counted_with_their_reason()
    {
        var coordinator = StartCounted(o => { o.MaxConcurrentCalls = 1; o.MaxQueuedCalls = 1; o.CallDeadline = TimeSpan.FromSeconds(5); });
        var running = HttpCall.Get(Url) with { Deadline = TimeSpan.FromMinutes(5) };
        coordinator.Tell(new ExecuteCall(running));
        Seen.ExpectMsg<SeenRequest>();

        coordinator.Tell(new ExecuteCall(running)); // the same call object again, while it runs
        Assert.IsType<InvalidHttpCallException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal("invalid_request", Recorded().Durations.Last());

        var queued = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(queued));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<CallQueueFullException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal("queue_full", Recorded().Durations.Last());

        coordinator.Tell(new CancelCall(queued.Id));
        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal("cancelled", Recorded().Durations.Last());

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        coordinator.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal("deadline", Recorded().Durations.Last());

        Assert.Equal(["invalid_request", "queue_full", "cancelled", "deadline"], Recorded().Durations);
        Assert.Equal(["invalid_request", "queue_full", "cancelled", "deadline"], Recorded().Failures);
    }

    [Fact]
    public async Task Calls_cut_short_by_a_stopping_runtime_are_counted_as_runtime_failures()
    {
        var coordinator = StartCounted(o => o.MaxConcurrentCalls = 1);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        coordinator.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();

        await coordinator.GracefulStop(TimeSpan.FromSeconds(5));
        ExpectMsg<CallFailed>();
        ExpectMsg<CallFailed>();

        // The queued call's duration comes from the coordinator; the running one's from the coordinator too (its actor
        // is stopped with it, mid-attempt).
        Assert.Equal(2, Recorded().Durations.Count(o => o == "runtime"));
    }

    [Fact]
    public void A_call_whose_actor_throws_is_counted_as_a_runtime_failure()
    {
        var coordinator = StartCounted(log: new ThrowingLog(LogLevel.ErrorLevel));
        Handler.ThenStatus(HttpStatusCode.InternalServerError);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<RuntimeUnavailableException>(ExpectMsg<CallFailed>().Error);

        Assert.Equal(["runtime"], Recorded().Durations);
        Assert.Equal(["runtime"], Recorded().Failures);
    }
}
