using System.Net;
using Akka.Event;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// The coordinator's answers when a call cannot end the ordinary way: the actor running it throws, the coordinator
/// stops with calls running or queued, a queued call reaches its own deadline. Each caller gets exactly one typed
/// answer that says which of these happened, and a call that crashed does not keep its host's slot.
/// </summary>
public sealed class CoordinatorEndTests : CoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    public CoordinatorEndTests(ITestOutputHelper output) : base(output)
    {
        Handler.Default = (_, ct) => Hang(ct);
    }

    private new IActorRef StartCoordinator(Action<HttpRuntimeOptions>? configure = null, ILoggingAdapter? log = null) =>
        base.StartCoordinator(o => { o.Retry.MaxRetries = 0; configure?.Invoke(o); }, log);

    [Fact]
    public void A_call_whose_actor_throws_is_answered_as_crashed_and_its_host_slot_is_freed()
    {
        // The actor running a call that failed with a 500 logs it at error level; a logger that throws there makes
        // the RequestActor throw inside its receive (the way any unexpected bug would).
        var coordinator = StartCoordinator(o => o.Hosts.MaxConcurrencyPerHost = 1, new ThrowingLog(LogLevel.ErrorLevel));
        Handler.ThenStatus(HttpStatusCode.InternalServerError);
        Handler.Then((_, _) => Task.FromResult(ScriptedHandler.Ok()));
        var crashing = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(crashing));

        Seen.ExpectMsg<SeenRequest>();
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(crashing.Id, failed.CallId);
        var error = Assert.IsType<RuntimeUnavailableException>(failed.Error);
        Assert.Contains("stopped unexpectedly", error.Message);

        // One call per host at a time: the next call to the same host is sent only if the crashed one gave its slot back.
        var next = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(next));
        Seen.ExpectMsg<SeenRequest>();
        var succeeded = ExpectMsg<CallSucceeded>();
        Assert.Equal(next.Id, succeeded.CallId);
        succeeded.Response.Dispose();
    }

    [Fact]
    public async Task When_the_coordinator_stops_a_running_call_and_a_queued_call_are_told_which_of_the_two_they_were()
    {
        var coordinator = StartCoordinator(o => o.MaxConcurrentCalls = 1);
        var running = HttpCall.Get(Url);
        var queued = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(running));
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();
        Sync(coordinator);

        await coordinator.GracefulStop(TimeSpan.FromSeconds(5));

        var answers = new[] { ExpectMsg<CallFailed>(), ExpectMsg<CallFailed>() }.ToDictionary(a => a.CallId);
        var runningError = Assert.IsType<RuntimeUnavailableException>(answers[running.Id].Error);
        Assert.Contains("the runtime stopped (the actor system is shutting down)", runningError.Message);
        var queuedError = Assert.IsType<RuntimeUnavailableException>(answers[queued.Id].Error);
        Assert.Contains("the runtime stopped before the call was sent", queuedError.Message);
        Assert.Equal(0, answers[queued.Id].Attempts);
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_queued_call_with_its_own_deadline_reports_that_deadline_when_it_expires_in_the_queue()
    {
        var coordinator = StartCoordinator(o => { o.MaxConcurrentCalls = 1; o.CallDeadline = TimeSpan.FromSeconds(30); o.AttemptTimeout = TimeSpan.FromMinutes(1); });
        var running = HttpCall.Get(Url) with { Deadline = TimeSpan.FromMinutes(5) };
        var queued = HttpCall.Get(Url) with { Deadline = TimeSpan.FromSeconds(2) };
        coordinator.Tell(new ExecuteCall(running));
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();
        Sync(coordinator);

        Scheduler.Advance(TimeSpan.FromSeconds(2));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(queued.Id, failed.CallId);
        var error = Assert.IsType<HttpCallTimeoutException>(failed.Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Equal(TimeSpan.FromSeconds(2), error.Limit);
        Assert.Contains("deadline of 2 s", error.Message);
        Assert.Contains("waited in the queue", error.Message);
    }

    [Fact]
    public void A_queued_call_without_a_deadline_reports_the_runtimes_CallDeadline()
    {
        var coordinator = StartCoordinator(o => { o.MaxConcurrentCalls = 1; o.CallDeadline = TimeSpan.FromSeconds(3); o.AttemptTimeout = TimeSpan.FromMinutes(1); });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { Deadline = TimeSpan.FromMinutes(5) }));
        var queued = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();
        Sync(coordinator);

        Scheduler.Advance(TimeSpan.FromSeconds(3));
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeSpan.FromSeconds(3), error.Limit);
    }
}
