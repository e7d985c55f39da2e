using System.Net;
using Courier.Diagnostics;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// Calls that ran and failed are counted with why (<c>courier.http.failures</c>, tag <c>reason</c>: status, timeout,
/// transport, retry_budget, invalid_request, deadline, cancelled), and every retry with the kind of failure it follows
/// (<c>courier.http.retries</c>), so a dashboard tells an outage from a slow host from a caller's mistake.
/// </summary>
public sealed class RunningCallTelemetryTests : CountedCoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    public RunningCallTelemetryTests(ITestOutputHelper output) : base(output)
    {
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled)); // retries and answers in one queue, in order
        Handler.Default = (_, ct) => Hang(ct);
    }

    private List<string?> Reasons(string instrument) => Capture.TagValues(instrument, "reason");

    [Fact]
    public void Each_way_a_running_call_fails_and_each_retry_is_counted_with_its_reason()
    {
        var coordinator = StartCounted(options =>
        {
            options.AttemptTimeout = TimeSpan.FromSeconds(1);
            options.Retry.MaxRetries = 1;
            // Room for exactly the three retries below (a timeout's, a transport failure's, a 503's): the fourth is refused.
            options.RetryBudget.Capacity = 20;
            options.RetryBudget.RetryCost = 5;
            options.RetryBudget.TimeoutRetryCost = 10;
            options.RetryBudget.SuccessRefund = 0;
        });
        var refused = new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused");
        Handler.ThenStatus(HttpStatusCode.NotFound)
            .ThenHang().ThenHang()
            .ThenThrow(refused).ThenThrow(refused)
            .ThenStatus(HttpStatusCode.ServiceUnavailable).ThenStatus(HttpStatusCode.ServiceUnavailable)
            .ThenStatus(HttpStatusCode.ServiceUnavailable)
            .ThenThrow(new InvalidOperationException("no base address"));

        CallFails<HttpStatusException>(coordinator, HttpCall.Get(Url));
        CallFails<HttpCallTimeoutException>(coordinator, HttpCall.Get(Url), TimeSpan.FromSeconds(1));
        CallFails<HttpTransportException>(coordinator, HttpCall.Get(Url));
        CallFails<HttpStatusException>(coordinator, HttpCall.Get(Url));
        CallFails<RetryBudgetExhaustedException>(coordinator, HttpCall.Get(Url));
        CallFails<InvalidHttpCallException>(coordinator, HttpCall.Get(Url));
        var late = HttpCall.Get(Url) with { Deadline = TimeSpan.FromMilliseconds(500) };
        coordinator.Tell(new ExecuteCall(late));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromMilliseconds(500));
        Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        var cancelled = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(cancelled));
        Seen.ExpectMsg<SeenRequest>();
        coordinator.Tell(new CancelCall(cancelled.Id));
        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);

        Assert.Equal(["status", "timeout", "transport", "status", "retry_budget", "invalid_request", "deadline", "cancelled"],
            Reasons("courier.http.failures"));
        Assert.Equal(["timeout", "transport", "status"], Reasons("courier.http.retries"));
    }

    /// <summary>Runs <paramref name="call"/> to its failure: every attempt answered by the script or timed out after <paramref name="attemptTimeout"/>.</summary>
    private void CallFails<TError>(IActorRef coordinator, HttpCall call, TimeSpan? attemptTimeout = null)
    {
        coordinator.Tell(new ExecuteCall(call));
        var attempts = 0;
        CallFailed failed;
        while (true)
        {
            Seen.ExpectMsg<SeenRequest>();
            attempts++;
            if (attemptTimeout is { } timeout) Scheduler.Advance(timeout);
            var next = ExpectMsg<object>(m => m is RetryScheduled or CallFailed);
            if (next is CallFailed end)
            {
                failed = end;
                break;
            }
            Scheduler.Advance(((RetryScheduled)next).Delay);
        }
        Assert.IsType<TError>(failed.Error);
        Assert.Equal(attempts, failed.Attempts);
    }

    [Fact]
    public async Task A_call_cut_short_by_a_stopping_runtime_is_no_longer_counted_as_running()
    {
        var coordinator = StartCounted();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(1, ActiveCalls());

        await coordinator.GracefulStop(TimeSpan.FromSeconds(5));
        ExpectMsg<CallFailed>();
        Assert.Equal(0, ActiveCalls());
    }

    // Issue 13: a RequestActor reused for call after call restarts one telemetry object instead of making one per call.
    // Each call is still measured as its own: its outcome, its status class, its attempts, its queue wait.
    [Fact]
    public void Calls_run_in_turn_by_one_reused_actor_are_each_measured_as_their_own()
    {
        var coordinator = StartCounted(o => { o.MaxConcurrentCalls = 1; o.Retry.MaxRetries = 0; });
        Handler.ThenStatus(HttpStatusCode.OK).ThenStatus(HttpStatusCode.NotFound).ThenStatus(HttpStatusCode.OK);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        ExpectMsg<CallSucceeded>().Response.Dispose();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        ExpectMsg<CallSucceeded>().Response.Dispose();

        Assert.Equal(["success", "status", "success"], Capture.TagValues("courier.http.call.duration", "courier.outcome"));
        Assert.Equal(["2xx", "4xx", "2xx"], Capture.TagValues("courier.http.call.duration", "courier.status_class"));
        Assert.Equal([1.0, 1.0, 1.0], Capture.Measurements.Where(m => m.Instrument == "courier.http.call.attempts").Select(m => m.Value));
        Assert.Equal(["status"], Reasons("courier.http.failures"));
        Assert.Equal(3, Capture.Measurements.Count(m => m.Instrument == "courier.http.call.queue_wait"));
    }

    private double ActiveCalls() => Capture.Measurements.Where(m => m.Instrument == "courier.http.active_calls").Sum(m => m.Value);

    [Fact]
    public void A_throttled_retry_is_counted_and_a_followed_redirect_is_an_event_of_the_calls_span()
    {
        var coordinator = StartCounted();
        Handler.ThenStatus(HttpStatusCode.TooManyRequests).Then((_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.Found) { Content = new StringContent("") };
            response.Headers.Location = new Uri("/items/2?key=secret", UriKind.Relative);
            return Task.FromResult(response);
        }).Then((_, _) => Task.FromResult(ScriptedHandler.Ok()));
        using var caller = new System.Diagnostics.Activity("caller").Start();
        var call = HttpCall.Get(Url);
        caller.Stop();

        coordinator.Tell(new ExecuteCall(call));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectMsg<RetryScheduled>().Delay);
        ExpectMsg<CallSucceeded>().Response.Dispose();

        Assert.Equal(["status"], Reasons("courier.http.retries"));
        var span = Assert.Single(Capture.InTrace(caller.TraceId), s => s.OperationName == CourierActivities.CallOperation);
        var redirect = Assert.Single(span.Events, e => e.Name == CourierActivities.Events.Redirect);
        Assert.Contains(redirect.Tags, t => t is { Key: Tags.StatusCode, Value: 302 });
        Assert.Contains(redirect.Tags, t => t.Key == Tags.UrlFull && (string)t.Value! == "https://api.example.test/items/2?key=***");
    }
}
