using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// The coordinator's own answers, for calls that never reach a RequestActor: URLs it cannot send to, calls cancelled
/// or expired while queued behind the cap (by the runtime's deadline when the call has none), and the typed error each
/// gets; none of them is ever sent.
/// </summary>
public sealed class QueuedCallAnswerTests : CoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    public QueuedCallAnswerTests(ITestOutputHelper output) : base(output)
    {
        Handler.Default = (_, ct) => Hang(ct);
    }

    [Theory]
    [InlineData("ftp://files.example.test/a.txt")]
    [InlineData("file:///etc/hosts")]
    public void A_URL_that_is_not_http_or_https_is_an_invalid_call_and_nothing_is_sent(string url)
    {
        var coordinator = StartCoordinator();
        var call = new HttpCall(HttpMethod.Get, new Uri(url));
        coordinator.Tell(new ExecuteCall(call));

        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(call.Id, failed.CallId);
        var error = Assert.IsType<InvalidHttpCallException>(failed.Error);
        Assert.Contains("absolute http or https URL", error.Message);
        Assert.Equal(0, failed.Attempts);
        Assert.Equal(0, Handler.Count);
    }

    [Fact]
    public void A_plain_http_URL_is_sent()
    {
        Handler.Then((_, _) => Task.FromResult(ScriptedHandler.Ok()));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri("http://api.example.test/items/1"))));

        Assert.Equal("http", Seen.ExpectMsg<SeenRequest>().Uri.Scheme);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_call_cancelled_while_queued_is_answered_as_cancelled_and_never_sent()
    {
        var coordinator = StartCoordinator(o => o.MaxConcurrentCalls = 1);
        var running = HttpCall.Get(Url);
        var queued = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(running));
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();

        coordinator.Tell(new CancelCall(queued.Id));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(queued.Id, failed.CallId);
        Assert.IsType<HttpCallCanceledException>(failed.Error);
        Assert.Equal(0, failed.Attempts);

        coordinator.Tell(new CancelCall(running.Id));
        Assert.Equal(running.Id, ExpectMsg<CallFailed>().CallId);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // the cancelled call does not take the freed slot
    }

    [Fact]
    public void A_queued_call_without_its_own_deadline_is_answered_at_the_runtimes_CallDeadline()
    {
        var coordinator = StartCoordinator(o => { o.MaxConcurrentCalls = 1; o.CallDeadline = TimeSpan.FromSeconds(3); o.AttemptTimeout = TimeSpan.FromSeconds(30); });
        var running = HttpCall.Get(Url) with { Deadline = TimeSpan.FromMinutes(5) };
        var queued = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(running));
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();
        Sync(coordinator);

        Scheduler.Advance(TimeSpan.FromMilliseconds(2999));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(queued.Id, failed.CallId);
        var error = Assert.IsType<HttpCallTimeoutException>(failed.Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Contains("waited in the queue", error.Message);
    }

    [Fact]
    public void A_call_started_after_waiting_keeps_the_deadline_counted_from_when_it_was_submitted()
    {
        var release = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then((_, _) => release.Task);
        var coordinator = StartCoordinator(o => { o.MaxConcurrentCalls = 1; o.AttemptTimeout = TimeSpan.FromSeconds(30); });
        var running = HttpCall.Get(Url) with { Deadline = TimeSpan.FromMinutes(5) };
        var queued = HttpCall.Get(Url) with { Deadline = TimeSpan.FromSeconds(3) };
        coordinator.Tell(new ExecuteCall(running));
        coordinator.Tell(new ExecuteCall(queued));
        Seen.ExpectMsg<SeenRequest>();
        Sync(coordinator);

        Scheduler.Advance(TimeSpan.FromSeconds(2)); // two of its three seconds spent in the queue
        release.SetResult(ScriptedHandler.Ok());
        Assert.Equal(running.Id, ExpectMsg<CallSucceeded>().CallId);
        Seen.ExpectMsg<SeenRequest>();              // the queued call is sent, and hangs

        Scheduler.Advance(TimeSpan.FromMilliseconds(999));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(queued.Id, failed.CallId);
        Assert.Equal(TimeoutKind.Deadline, Assert.IsType<HttpCallTimeoutException>(failed.Error).Kind);
        Assert.Equal(1, failed.Attempts);
    }
}
