using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Security.Authentication;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// The request path driven through virtual time: a TestScheduler replaces the clock, a scripted handler replaces the
/// network, and the test waits on messages (requests seen, <see cref="RetryScheduled"/> events, the call's result).
/// This is the example to copy for testing your own code on the runtime.
/// </summary>
public sealed class RequestActorTests : CoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/items/1?token=secret");

    /// <summary>Every <see cref="RetryScheduled"/>: published once the retry's timer is set, so the test may advance the clock.</summary>
    private readonly TestProbe _retries;

    /// <summary>
    /// The kit (<see cref="CoordinatorTestKit"/>) gives a TestScheduler (<c>Scheduler</c>), the scripted handler
    /// (<c>Handler</c>) reporting each request to <c>Seen</c>, and <c>StartRuntime</c>: the runtime without jitter, so
    /// delays are exact (100 ms, 200 ms, 400 ms... capped at 2 s).
    /// </summary>
    public RequestActorTests(ITestOutputHelper output) : base(output)
    {
        _retries = EventProbe<RetryScheduled>();
    }

    private SeenRequest ExpectRequest(int number)
    {
        var seen = Seen.ExpectMsg<SeenRequest>(TimeSpan.FromSeconds(5));
        Assert.Equal(number, seen.Number);
        return seen;
    }

    [Fact]
    public void Retries_503_at_the_exact_backoff_times_then_succeeds()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable).ThenStatus(HttpStatusCode.ServiceUnavailable);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = ExpectRequest(1);
        Assert.Equal(TimeSpan.FromMilliseconds(100), _retries.ExpectMsg<RetryScheduled>().Delay);
        Scheduler.Advance(TimeSpan.FromMilliseconds(99));
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var second = ExpectRequest(2);
        Assert.Equal(TimeSpan.FromMilliseconds(100), second.At - first.At);

        Assert.Equal(TimeSpan.FromMilliseconds(200), _retries.ExpectMsg<RetryScheduled>().Delay);
        Scheduler.Advance(TimeSpan.FromMilliseconds(200));
        var third = ExpectRequest(3);
        Assert.Equal(TimeSpan.FromMilliseconds(300), third.At - first.At);

        var result = ExpectMsg<CallSucceeded>();
        Assert.Equal(3, result.Attempts);
        Assert.Equal(HttpStatusCode.OK, result.Response.StatusCode);
        result.Response.Dispose();
    }

    [Fact]
    public void Gives_up_after_MaxRetries_with_a_status_error_that_names_the_call_without_secrets()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.BadGateway) { Content = new StringContent("upstream down") });
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url).WithHeader("Authorization", "Bearer super-secret-token")));

        ExpectRequest(1);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        ExpectRequest(2);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        ExpectRequest(3);

        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<HttpStatusException>(failed.Error);
        Assert.Equal(HttpStatusCode.BadGateway, error.StatusCode);
        Assert.Equal(3, error.Attempts);
        Assert.Equal("upstream down", error.ResponseBody);
        Assert.Contains("GET https://api.example.test/items/1?token=***", error.Message);
        Assert.DoesNotContain("secret", error.Message);
        Assert.DoesNotContain("secret", failed.ToString());
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Honours_Retry_After_in_seconds()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(3)));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = ExpectRequest(1);
        Assert.Equal(TimeSpan.FromSeconds(3), _retries.ExpectMsg<RetryScheduled>().Delay);
        Scheduler.Advance(TimeSpan.FromMilliseconds(2999));
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal(TimeSpan.FromSeconds(3), ExpectRequest(2).At - first.At);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void Honours_Retry_After_as_an_HTTP_date()
    {
        // An HTTP-date has whole seconds: the wait is from "now" on the scheduler's clock to that date.
        var date = Scheduler.Now.AddSeconds(5);
        var rounded = new DateTimeOffset(date.Year, date.Month, date.Day, date.Hour, date.Minute, date.Second, TimeSpan.Zero);
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable,
            r => r.Headers.TryAddWithoutValidation("Retry-After", rounded.ToString("r", CultureInfo.InvariantCulture)));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = ExpectRequest(1);
        var delay = _retries.ExpectMsg<RetryScheduled>().Delay;
        Assert.Equal(rounded - first.At, delay);
        Assert.InRange(delay, TimeSpan.FromSeconds(4), TimeSpan.FromSeconds(5));
        // The retry waits for its host's pause, a timer of the coordinator: let the coordinator read the report and the
        // permit request (both sent before RetryScheduled) before time moves, or its timer is set after the Advance.
        runtime.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
        Scheduler.Advance(delay);
        ExpectRequest(2);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_Retry_After_longer_than_the_maximum_fails_at_once()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromHours(1)));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, error.StatusCode);
        Assert.Contains("MaxRetryAfter", error.Message);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_retry_that_would_start_after_the_deadline_fails_now()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(10)));
        var runtime = StartRuntime(o => o.CallDeadline = TimeSpan.FromSeconds(5));
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Equal(1, error.Attempts);
        Assert.IsType<HttpStatusException>(error.InnerException);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void The_deadline_stops_a_call_between_retries()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        var runtime = StartRuntime(o =>
        {
            o.CallDeadline = TimeSpan.FromSeconds(1);
            o.Retry.MaxRetries = 10;
            o.Retry.BaseDelay = TimeSpan.FromMilliseconds(300);
            o.Retry.BackoffFactor = 1;
        });
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay); // t = 300
        ExpectRequest(2);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay); // t = 600
        ExpectRequest(3);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay); // t = 900
        ExpectRequest(4);
        // The next retry would start at 1200 ms, past the 1 s deadline: the call fails now, not at 1 s.
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Equal(4, error.Attempts);
    }

    [Fact]
    public void Cancelling_during_a_scheduled_retry_fails_at_once_and_the_retry_never_runs()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var runtime = StartRuntime();
        var call = HttpCall.Get(Url);
        runtime.Tell(new ExecuteCall(call));

        ExpectRequest(1);
        var retry = _retries.ExpectMsg<RetryScheduled>();
        runtime.Tell(new CancelCall(call.Id));

        var canceled = Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(1, canceled.Attempts);
        Scheduler.Advance(retry.Delay + TimeSpan.FromSeconds(1));
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Cancelling_aborts_the_attempt_in_flight()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then(async (_, ct) =>
        {
            var never = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var registration = ct.Register(() => { aborted.TrySetResult(); never.TrySetCanceled(ct); });
            return await never.Task;
        });
        var runtime = StartRuntime();
        var call = HttpCall.Get(Url);
        runtime.Tell(new ExecuteCall(call));
        ExpectRequest(1);

        runtime.Tell(new CancelCall(call.Id));

        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);
        // The attempt is cancelled before the call's end is reported (its slot must not be freed while it runs).
        Assert.True(aborted.Task.IsCompleted, "the attempt was still running when the call's cancellation was reported");
    }

    [Fact]
    public void A_hanging_attempt_times_out_on_the_scheduler_and_is_retried()
    {
        Handler.ThenHang();
        var runtime = StartRuntime(o => o.AttemptTimeout = TimeSpan.FromSeconds(2));
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = ExpectRequest(1);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromSeconds(2));
        var retry = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal("attempt timed out", retry.Reason);
        Scheduler.Advance(retry.Delay);
        Assert.Equal(TimeSpan.FromMilliseconds(2100), ExpectRequest(2).At - first.At);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void An_attempt_still_running_at_the_deadline_ends_with_a_deadline_error()
    {
        Handler.ThenHang();
        var runtime = StartRuntime(o => { o.AttemptTimeout = TimeSpan.FromSeconds(10); o.CallDeadline = TimeSpan.FromSeconds(3); });
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        Scheduler.Advance(TimeSpan.FromMilliseconds(2999));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));

        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Every_attempt_timing_out_ends_in_a_timeout_error()
    {
        Handler.Default = (_, ct) => Hang(ct);
        var runtime = StartRuntime(o => { o.AttemptTimeout = TimeSpan.FromSeconds(1); o.Retry.MaxRetries = 1; });
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        ExpectRequest(2);
        Scheduler.Advance(TimeSpan.FromSeconds(1));

        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Attempt, error.Kind);
        Assert.Equal(2, error.Attempts);
    }

    [Fact]
    public void A_POST_without_an_idempotency_key_is_not_retried_after_reaching_the_server()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));

        ExpectRequest(1);
        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("Idempotency-Key", error.Message);
        Assert.Equal(1, error.Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_POST_with_an_idempotency_key_is_retried_with_the_same_body()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 }).WithHeader("Idempotency-Key", "k-1")));

        var first = ExpectRequest(1);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        var second = ExpectRequest(2);
        Assert.Equal("{\"amount\":10}", first.Body);
        Assert.Equal(first.Body, second.Body);
        Assert.Equal("k-1", second.Headers["Idempotency-Key"]);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_POST_refused_before_anything_was_sent_is_retried()
    {
        Handler.ThenThrow(new HttpRequestException(HttpRequestError.ConnectionError, "Connection refused",
            new SocketException((int)SocketError.ConnectionRefused)));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));

        ExpectRequest(1);
        Assert.Equal("connection failed", _retries.ExpectMsg<RetryScheduled>().Reason);
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        ExpectRequest(2);
        Assert.Equal(2, ExpectMsg<CallSucceeded>().Attempts);
    }

    [Fact]
    public void A_POST_cut_off_mid_response_is_not_retried()
    {
        Handler.ThenThrow(new HttpRequestException(HttpRequestError.ResponseEnded, "The response ended prematurely."));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));

        ExpectRequest(1);
        var error = Assert.IsType<HttpTransportException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("may already have reached the server", error.Message);
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.BadRequest)]
    [InlineData(HttpStatusCode.NotImplemented)]
    public void Statuses_outside_the_retry_set_fail_after_one_attempt(HttpStatusCode status)
    {
        Handler.ThenStatus(status);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(status, error.StatusCode);
        Assert.Equal(1, error.Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_TLS_failure_is_not_retried()
    {
        Handler.ThenThrow(new HttpRequestException(HttpRequestError.SecureConnectionError, "The SSL connection could not be established",
            new AuthenticationException("remote certificate is invalid")));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        var error = Assert.IsType<HttpTransportException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("TLS", error.Message);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_spent_retry_budget_fails_fast_with_a_typed_error()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable));
        // Room for exactly one retry.
        var runtime = StartRuntime(o => { o.RetryBudget.Capacity = 5; o.RetryBudget.RetryCost = 5; });
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        ExpectRequest(1);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        ExpectRequest(2);

        var error = Assert.IsType<RetryBudgetExhaustedException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpCallFailure.RetryBudgetExhausted, error.Failure);
        Assert.IsType<HttpStatusException>(error.InnerException);

        // The next call gets no retry either.
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
        ExpectRequest(3);
        Assert.IsType<RetryBudgetExhaustedException>(ExpectMsg<CallFailed>().Error);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_full_queue_refuses_at_once()
    {
        Handler.Default = (_, ct) => Hang(ct);
        var runtime = StartRuntime(o => { o.MaxConcurrentCalls = 1; o.MaxQueuedCalls = 1; });
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
        var third = HttpCall.Get(Url);
        runtime.Tell(new ExecuteCall(third));

        var refused = ExpectMsg<CallFailed>();
        Assert.Equal(third.Id, refused.CallId);
        Assert.IsType<CallQueueFullException>(refused.Error);
        ExpectRequest(1);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the queued call waits for the slot
    }

    [Fact]
    public void A_queued_call_starts_when_a_slot_frees()
    {
        var release = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then((_, _) => release.Task);
        var runtime = StartRuntime(o => o.MaxConcurrentCalls = 1);
        var first = HttpCall.Get(Url);
        var second = HttpCall.Get(Url);
        runtime.Tell(new ExecuteCall(first));
        runtime.Tell(new ExecuteCall(second));

        ExpectRequest(1);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        release.SetResult(ScriptedHandler.Ok());

        Assert.Equal(first.Id, ExpectMsg<CallSucceeded>().CallId);
        ExpectRequest(2);
        Assert.Equal(second.Id, ExpectMsg<CallSucceeded>().CallId);
    }

    [Fact]
    public void Copies_of_a_call_are_new_calls_and_one_call_cannot_be_in_flight_twice()
    {
        var call = HttpCall.Get(Url);
        Assert.NotEqual(call.Id, (call with { }).Id);
        Assert.NotEqual(call.Id, call.WithHeader("X-A", "1").Id);

        Handler.Default = (_, ct) => Hang(ct);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(call));
        ExpectRequest(1);
        runtime.Tell(new ExecuteCall(call));

        var refused = ExpectMsg<CallFailed>();
        Assert.Equal(call.Id, refused.CallId);
        Assert.Contains("already in flight", Assert.IsType<InvalidHttpCallException>(refused.Error).Message);
        runtime.Tell(new CancelCall(call.Id)); // the first one is still running, and still cancellable
        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);
    }

    [Fact]
    public void A_relative_url_is_an_invalid_call()
    {
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(new HttpCall(HttpMethod.Get, new Uri("/relative", UriKind.Relative))));
        var error = Assert.IsType<InvalidHttpCallException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpCallFailure.InvalidRequest, error.Failure);
        Assert.Equal(0, Handler.Count);
    }
}
