using System.Net;
using System.Net.Http.Headers;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// What a caller relies on from the actor that runs a call and no other test pinned (issue 15, measured with Stryker):
/// the call's own settings, the exact edges of the deadline, timed-out attempts aborted, throttling with and without a
/// host pause, the token wait, and an actor reused for the next call starting afresh. A TestProbe plays the TokenActor
/// where a token is involved, so the test decides every generation.
/// </summary>
public sealed class RequestActorPromiseTests : CoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/orders/1");

    private readonly TestProbe _retries;
    private readonly TestProbe _tokens;

    public RequestActorPromiseTests(ITestOutputHelper output) : base(output)
    {
        _retries = CreateTestProbe();
        _tokens = CreateTestProbe();
        Sys.EventStream.Subscribe(_retries.Ref, typeof(RetryScheduled));
    }

    /// <summary>A coordinator whose calls get their tokens from <see cref="_tokens"/> (and from <paramref name="snapshot"/> when given).</summary>
    private IActorRef StartWithTokens(Action<HttpRuntimeOptions>? configure = null, TokenSnapshotCell? snapshot = null)
    {
        var runtime = Runtime(o => { o.Auth = new TokenOptions(); configure?.Invoke(o); });
        runtime.Tokens = _tokens.Ref;
        runtime.TokenSnapshot = snapshot;
        return Sys.ActorOf(RequestCoordinator.Props(runtime));
    }

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Redirect(HttpStatusCode status, string location) =>
        (_, _) =>
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent("") };
            response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            return Task.FromResult(response);
        };

    private static Action<HttpResponseMessage> RetryAfterSeconds(int seconds) =>
        r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(seconds));

    // ---- the call's own settings -------------------------------------------------------------------------------

    [Fact]
    public void A_calls_own_attempt_timeout_replaces_the_runtimes()
    {
        Handler.ThenHang();
        var coordinator = StartCoordinator(o => o.AttemptTimeout = TimeSpan.FromSeconds(30));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { AttemptTimeout = TimeSpan.FromSeconds(1) }));

        var first = Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        var retry = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal("attempt timed out", retry.Reason);
        Scheduler.Advance(retry.Delay);
        Assert.Equal(TimeSpan.FromSeconds(1) + retry.Delay, Seen.ExpectMsg<SeenRequest>().At - first.At);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    // ---- timed-out attempts ------------------------------------------------------------------------------------

    [Fact]
    public void A_timed_out_attempt_is_aborted_not_left_running_beside_its_retry()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then(async (_, ct) =>
        {
            await using var registration = ct.Register(() => aborted.TrySetResult());
            return await Hang(ct);
        });
        Handler.Default = (_, ct) => Hang(ct);
        var coordinator = StartCoordinator(o => o.AttemptTimeout = TimeSpan.FromSeconds(1));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();

        Scheduler.Advance(TimeSpan.FromSeconds(1));
        _retries.ExpectMsg<RetryScheduled>();
        // The first attempt's request is cancelled when it times out, before the retry is even scheduled: the cancel runs
        // its callbacks synchronously on the actor's thread, ahead of the RetryScheduled event just received. (Waiting on
        // the task instead depended on a thread-pool continuation, which a starved pool in the full suite delayed past 5 s.)
        Assert.True(aborted.Task.IsCompleted, "the timed-out attempt's request was still running when its retry was scheduled");
    }

    [Fact]
    public void A_POST_without_an_idempotency_key_that_times_out_is_not_retried()
    {
        Handler.ThenHang();
        var coordinator = StartCoordinator(o => o.AttemptTimeout = TimeSpan.FromSeconds(1));
        coordinator.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));
        Seen.ExpectMsg<SeenRequest>();

        Scheduler.Advance(TimeSpan.FromSeconds(1));
        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<HttpCallTimeoutException>(failed.Error);
        Assert.Equal(TimeoutKind.Attempt, error.Kind);
        Assert.Equal(1, failed.Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_retry_after_a_timeout_costs_the_timeout_price_of_the_budget()
    {
        // 10 tokens: one retry after a timeout (10) empties the bucket, where an ordinary retry (1) would not.
        Handler.ThenHang().ThenStatus(HttpStatusCode.NotFound).ThenStatus(HttpStatusCode.ServiceUnavailable);
        var coordinator = StartCoordinator(o =>
        {
            o.AttemptTimeout = TimeSpan.FromSeconds(1);
            o.RetryBudget.Capacity = 10;
            o.RetryBudget.RetryCost = 1;
            o.RetryBudget.TimeoutRetryCost = 10;
            o.RetryBudget.SuccessRefund = 0;
        });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        Assert.Equal(HttpStatusCode.NotFound, Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).StatusCode);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<RetryBudgetExhaustedException>(ExpectMsg<CallFailed>().Error);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_retried_call_that_succeeds_gives_its_retrys_tokens_back()
    {
        // One retry's worth of tokens and no refund for plain successes: only the retry's own cost coming back lets the
        // second call retry too.
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable).ThenStatus(HttpStatusCode.OK)
            .ThenStatus(HttpStatusCode.ServiceUnavailable).ThenStatus(HttpStatusCode.OK);
        var coordinator = StartCoordinator(o => { o.RetryBudget.Capacity = 5; o.RetryBudget.RetryCost = 5; o.RetryBudget.SuccessRefund = 0; });

        for (var call = 0; call < 2; call++)
        {
            coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
            Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
            var ok = ExpectMsg<CallSucceeded>();
            Assert.Equal(2, ok.Attempts);
            ok.Response.Dispose();
        }
    }

    [Fact]
    public async Task Stopping_the_runtime_aborts_the_attempts_in_flight()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then(async (_, ct) =>
        {
            await using var registration = ct.Register(() => aborted.TrySetResult());
            return await Hang(ct);
        });
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();

        await coordinator.GracefulStop(TimeSpan.FromSeconds(5));
        ExpectMsg<CallFailed>();
        await aborted.Task.WaitAsync(TimeSpan.FromSeconds(30)); // not left holding its connection (a generous wait: a starved pool in the full suite delays the continuation)
    }

    // ---- what a host is charged with ---------------------------------------------------------------------------

    [Fact]
    public void What_says_nothing_about_the_host_never_opens_its_circuit_and_a_timed_out_attempt_does()
    {
        Handler.ThenThrow(new InvalidOperationException("no base address"));
        Handler.Default = (_, ct) => Hang(ct);
        var coordinator = StartCoordinator(o =>
        {
            o.Retry.MaxRetries = 0;
            o.AttemptTimeout = TimeSpan.FromSeconds(1);
            o.Hosts.CircuitBreakerFailures = 1;
            o.Hosts.CircuitBreakDuration = TimeSpan.FromMinutes(1);
        });

        // The caller's mistake: a request the handler rejects as invalid.
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        Assert.IsType<InvalidHttpCallException>(ExpectMsg<CallFailed>().Error);
        // The call's own deadline, shorter than its attempt timeout.
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { Deadline = TimeSpan.FromMilliseconds(500) }));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Equal(TimeoutKind.Deadline, Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error).Kind);
        // The caller cancelling mid-attempt.
        var cancelled = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(cancelled));
        Seen.ExpectMsg<SeenRequest>();
        coordinator.Tell(new CancelCall(cancelled.Id));
        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);

        // Still closed: the next call is sent; its attempt timing out is the host's failure, and opens the circuit.
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeoutKind.Attempt, Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error).Kind);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<CircuitOpenException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(4, Handler.Count);
    }

    // ---- the edges of the deadline -----------------------------------------------------------------------------

    [Fact]
    public void A_retry_due_exactly_at_the_deadline_fails_now()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var coordinator = StartCoordinator(o => { o.CallDeadline = TimeSpan.FromSeconds(1); o.Retry.BaseDelay = TimeSpan.FromSeconds(1); });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        // No virtual time passes: a retry at the deadline would have no time left, so the call ends at once.
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Contains("the next retry", error.Message);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, Assert.IsType<HttpStatusException>(error.InnerException).StatusCode);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_host_asking_to_wait_exactly_until_the_deadline_fails_the_call_now()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, RetryAfterSeconds(5));
        var coordinator = StartCoordinator(o => o.CallDeadline = TimeSpan.FromSeconds(5));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Contains("past the deadline", error.Message);
        Assert.Equal(HttpStatusCode.TooManyRequests, Assert.IsType<HttpStatusException>(error.InnerException).StatusCode);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_wait_for_the_token_ends_at_the_deadline_with_a_deadline_error()
    {
        var coordinator = StartWithTokens(o => o.CallDeadline = TimeSpan.FromSeconds(5));
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));
        _tokens.ExpectMsg<GetToken>(); // never answered: a refresh that hangs

        Scheduler.Advance(TimeSpan.FromMilliseconds(4999));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(call.Id, failed.CallId);
        Assert.Equal(TimeoutKind.Deadline, Assert.IsType<HttpCallTimeoutException>(failed.Error).Kind);
        Assert.Equal(0, failed.Attempts);
        Assert.Equal(0, Handler.Count);

        // A token arriving after the end sends nothing.
        _tokens.Reply(new TokenGranted(call.Id, "late", 1));
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    // ---- throttling --------------------------------------------------------------------------------------------

    [Fact]
    public void A_Retry_After_of_exactly_MaxRetryAfter_is_honoured()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, RetryAfterSeconds(3));
        var coordinator = StartCoordinator(o => o.Retry.MaxRetryAfter = TimeSpan.FromSeconds(3));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(TimeSpan.FromSeconds(3), _retries.ExpectMsg<RetryScheduled>().Delay);
        Sync(coordinator); // the host's pause is the coordinator's timer: set before time moves
        Scheduler.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(TimeSpan.FromSeconds(3), Seen.ExpectMsg<SeenRequest>().At - first.At);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_429_with_Retry_After_0_waits_its_own_backoff()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, RetryAfterSeconds(0));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(TimeSpan.FromMilliseconds(100), _retries.ExpectMsg<RetryScheduled>().Delay);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // not at once
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(TimeSpan.FromMilliseconds(100), Seen.ExpectMsg<SeenRequest>().At - first.At);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void Throttled_retries_without_Retry_After_back_off_further_each_time()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests).ThenStatus(HttpStatusCode.TooManyRequests);
        var coordinator = StartCoordinator(o => o.Retry.MaxRetries = 0); // throttling is not bounded by MaxRetries
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Seen.ExpectMsg<SeenRequest>();
        var first = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal((1, TimeSpan.FromMilliseconds(100)), (first.Retry, first.Delay));
        Scheduler.Advance(first.Delay);
        Seen.ExpectMsg<SeenRequest>();
        var second = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal((2, TimeSpan.FromMilliseconds(200)), (second.Retry, second.Delay));
        Assert.Contains("throttled", second.Reason);
        Scheduler.Advance(second.Delay);
        Assert.Equal(3, ExpectMsg<CallSucceeded>().Attempts);
    }

    [Fact]
    public void With_PauseOnRetryAfter_off_a_429_is_retried_as_an_ordinary_failure_within_MaxRetries()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, RetryAfterSeconds(2)).ThenStatus(HttpStatusCode.TooManyRequests, RetryAfterSeconds(2));
        var coordinator = StartCoordinator(o => { o.Hosts.PauseOnRetryAfter = false; o.Retry.MaxRetries = 1; });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var first = Seen.ExpectMsg<SeenRequest>();
        var retry = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal(TimeSpan.FromSeconds(2), retry.Delay); // Retry-After still sets the wait
        Assert.DoesNotContain("throttled", retry.Reason);
        Scheduler.Advance(retry.Delay);
        Assert.Equal(TimeSpan.FromSeconds(2), Seen.ExpectMsg<SeenRequest>().At - first.At);

        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.TooManyRequests, error.StatusCode);
        Assert.Equal(2, error.Attempts);
    }

    // ---- tokens ------------------------------------------------------------------------------------------------

    [Fact]
    public void A_call_whose_token_cannot_be_had_fails_with_the_token_actors_reason()
    {
        var coordinator = StartWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenUnavailable(call.Id, new AuthenticationFailedException("signed out")));

        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<AuthenticationFailedException>(failed.Error);
        Assert.Equal("signed out", error.Reason);
        Assert.Contains("GET https://api.example.test/orders/1", error.Message);
        Assert.Equal(0, failed.Attempts);
        Assert.Equal(0, Handler.Count);
    }

    [Fact]
    public void A_401_from_another_origin_the_token_was_not_sent_to_is_the_answer_not_a_refresh()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "https://other.example.test/orders/1")).ThenStatus(HttpStatusCode.Unauthorized);
        var coordinator = StartWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(call.Id, "access-1", 1));

        Assert.Equal("Bearer access-1", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Authorization"));
        Assert.Equal(HttpStatusCode.Unauthorized, Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).StatusCode);
        _tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no TokenRejected: the credentials are fine
    }

    [Fact]
    public void A_published_token_is_sent_without_asking_and_once_refused_is_never_sent_again()
    {
        var snapshot = new TokenSnapshotCell();
        snapshot.Publish(new TokenSnapshot("access-1", 1, null));
        Handler.ThenStatus(HttpStatusCode.Unauthorized).ThenStatus(HttpStatusCode.ServiceUnavailable);
        var coordinator = StartWithTokens(snapshot: snapshot);
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Assert.Equal("Bearer access-1", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        Assert.Equal(1, _tokens.ExpectMsg<TokenRejected>().Generation); // the first message the TokenActor gets
        _tokens.Reply(new TokenGranted(call.Id, "access-2", 2));
        Assert.Equal("Bearer access-2", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);

        // The 503's retry finds the refused generation still published: it asks the TokenActor instead of sending it.
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(call.Id, "access-2", 2));
        Assert.Equal("Bearer access-2", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        Assert.Equal(3, ExpectMsg<CallSucceeded>().Attempts);
    }

    // ---- an actor reused for the next call ---------------------------------------------------------------------

    [Fact]
    public void The_next_call_on_a_reused_actor_gets_its_own_retries_redirects_method_and_body()
    {
        // One actor runs both calls (one slot). The first one spends everything: a throttle, both retries, the one
        // redirect allowed, and a 303 that turns it into a body-less GET.
        Handler.ThenStatus(HttpStatusCode.TooManyRequests)
            .ThenStatus(HttpStatusCode.ServiceUnavailable)
            .Then(Redirect(HttpStatusCode.SeeOther, "/result/1"))
            .ThenStatus(HttpStatusCode.ServiceUnavailable)
            .ThenStatus(HttpStatusCode.ServiceUnavailable);
        var coordinator = StartCoordinator(o => { o.MaxConcurrentCalls = 1; o.MaxRedirects = 1; o.Retry.MaxRetries = 2; });
        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.Json(new { n = 1 }) }));
        for (var i = 0; i < 3; i++) Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(5, failed.Attempts);
        for (var i = 0; i < 5; i++) Seen.ExpectMsg<SeenRequest>();

        // The second call: a throttle that backs off from the start, a redirect (302 keeps a PUT), then both retries.
        Handler.ThenStatus(HttpStatusCode.TooManyRequests)
            .Then(Redirect(HttpStatusCode.Found, "/orders/2"))
            .ThenStatus(HttpStatusCode.ServiceUnavailable)
            .ThenStatus(HttpStatusCode.ServiceUnavailable);
        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.Json(new { n = 2 }) }));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal((HttpMethod.Put, "{\"n\":2}", Url), (first.Method, first.Body, first.Uri));
        var throttled = _retries.ExpectMsg<RetryScheduled>();
        Assert.Equal((1, TimeSpan.FromMilliseconds(100)), (throttled.Retry, throttled.Delay));
        Scheduler.Advance(throttled.Delay);
        Seen.ExpectMsg<SeenRequest>();
        var redirected = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal((HttpMethod.Put, "{\"n\":2}", "/orders/2"), (redirected.Method, redirected.Body, redirected.Uri.AbsolutePath));
        for (var retry = 1; retry <= 2; retry++)
        {
            var scheduled = _retries.ExpectMsg<RetryScheduled>();
            Assert.Equal(retry, scheduled.Retry);
            Scheduler.Advance(scheduled.Delay);
            Seen.ExpectMsg<SeenRequest>();
        }
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(5, ok.Attempts);
        ok.Response.Dispose();
    }

    [Fact]
    public void The_next_call_on_a_reused_actor_has_its_own_refreshes()
    {
        Handler.ThenStatus(HttpStatusCode.Unauthorized).ThenStatus(HttpStatusCode.OK).ThenStatus(HttpStatusCode.Unauthorized);
        var coordinator = StartWithTokens(o => { o.MaxConcurrentCalls = 1; o.MaxRefreshesPerCall = 1; });
        var first = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(first));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(first.Id, "access-1", 1));
        _tokens.ExpectMsg<TokenRejected>();
        _tokens.Reply(new TokenGranted(first.Id, "access-2", 2));
        ExpectMsg<CallSucceeded>().Response.Dispose();

        // The second call's first refusal asks for a refresh of the generation it sent, like any call's first.
        var second = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(second));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(second.Id, "access-2", 2));
        Assert.Equal(2, _tokens.ExpectMsg<TokenRejected>().Generation);
        _tokens.Reply(new TokenGranted(second.Id, "access-3", 3));
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(2, ok.Attempts);
        ok.Response.Dispose();
    }

    [Fact]
    public void A_call_for_another_credential_on_a_reused_actor_is_not_held_to_the_last_calls_refused_generation()
    {
        var billing = CreateTestProbe();
        Handler.ThenStatus(HttpStatusCode.Unauthorized);
        var runtime = Runtime(o => { o.Auth = new TokenOptions(); o.MaxConcurrentCalls = 1; });
        runtime.Tokens = _tokens.Ref;
        runtime.AddCredential("billing", new TokenOptions(), billing.Ref);
        var coordinator = Sys.ActorOf(RequestCoordinator.Props(runtime));
        var first = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(first));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(first.Id, "default-7", 7));
        Assert.Equal(7, _tokens.ExpectMsg<TokenRejected>().Generation);
        _tokens.Reply(new TokenGranted(first.Id, "default-8", 8));
        ExpectMsg<CallSucceeded>().Response.Dispose();

        // Another credential counts its own generations: its first token, generation 1, is sent.
        var second = HttpCall.Get(Url) with { Credential = "billing" };
        coordinator.Tell(new ExecuteCall(second));
        Assert.IsType<GetToken>(billing.ExpectMsg<ForCredential>().Message);
        billing.Reply(new TokenGranted(second.Id, "billing-1", 1));
        Seen.ExpectMsg<SeenRequest>();
        Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("Bearer billing-1", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(1, ok.Attempts);
        ok.Response.Dispose();
    }

    [Fact]
    public void An_attempt_timeout_ending_exactly_at_the_deadline_is_reported_as_the_attempts_timeout()
    {
        Handler.ThenHang();
        var coordinator = StartCoordinator(o =>
        {
            o.Retry.MaxRetries = 0;
            o.AttemptTimeout = TimeSpan.FromSeconds(2);
            o.CallDeadline = TimeSpan.FromSeconds(2);
            o.Hosts.CircuitBreakerFailures = 1;
        });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();

        Scheduler.Advance(TimeSpan.FromSeconds(2));
        // The attempt ran its whole timeout: the host was too slow, and is charged with it.
        Assert.Equal(TimeoutKind.Attempt, Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error).Kind);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Assert.IsType<CircuitOpenException>(ExpectMsg<CallFailed>().Error);
    }

    [Fact]
    public void A_throttled_call_cut_by_its_deadline_names_the_throttling_as_its_last_error()
    {
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, RetryAfterSeconds(1)).ThenHang();
        var coordinator = StartCoordinator(o => { o.CallDeadline = TimeSpan.FromSeconds(5); o.AttemptTimeout = TimeSpan.FromSeconds(30); });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Seen.ExpectMsg<SeenRequest>();
        _retries.ExpectMsg<RetryScheduled>();
        Sync(coordinator);
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        Seen.ExpectMsg<SeenRequest>(); // the retry hangs until the deadline

        Scheduler.Advance(TimeSpan.FromSeconds(4));
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        Assert.Equal(HttpStatusCode.TooManyRequests, Assert.IsType<HttpStatusException>(error.InnerException).StatusCode);
        Assert.Contains("last error", error.Message);
    }

    [Fact]
    public void With_MaxRedirects_0_a_redirect_is_handed_back_as_it_came()
    {
        Handler.Then((_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.Found) { Content = new StringContent("moved, see Location") };
            response.Headers.Location = new Uri("/orders/2", UriKind.Relative);
            return Task.FromResult(response);
        });
        var coordinator = StartCoordinator(o => o.MaxRedirects = 0);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.Found, error.StatusCode);
        Assert.Equal("moved, see Location", error.ResponseBody); // the server's answer, not a refused redirect
        Assert.DoesNotContain("MaxRedirects", error.Message);
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void The_refusal_that_ends_a_call_says_how_many_refreshes_it_had()
    {
        Handler.ThenStatus(HttpStatusCode.Unauthorized).ThenStatus(HttpStatusCode.Unauthorized).ThenStatus(HttpStatusCode.Unauthorized);
        var coordinator = StartWithTokens(o => o.MaxRefreshesPerCall = 1);
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(call.Id, "access-1", 1));
        _tokens.ExpectMsg<TokenRejected>();
        _tokens.Reply(new TokenGranted(call.Id, "access-2", 2));
        var error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("refused the access token with 401 again after 1 refresh(es) (Courier:MaxRefreshesPerCall)", error.Message);

        var none = StartWithTokens(o => o.MaxRefreshesPerCall = 0);
        var second = HttpCall.Get(Url);
        none.Tell(new ExecuteCall(second));
        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(second.Id, "access-2", 2));
        error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("refused the access token with 401 (Courier:MaxRefreshesPerCall is 0)", error.Message);
        _tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    public static TheoryData<string> ImmediateFailures => new()
    {
        "404", "POST 503 without a key", "Retry-After past MaxRetryAfter", "redirect limit", "redirect down to http", "TLS failure",
        "POST cut off", "POST timed out", "deadline",
    };

    [Theory]
    [MemberData(nameof(ImmediateFailures))]
    public void After_a_call_fails_at_once_the_same_actor_runs_the_next_call_and_no_retry_budget_was_spent(string failure)
    {
        // One slot (one actor runs both calls) and a budget of exactly one retry.
        var coordinator = StartCoordinator(o =>
        {
            o.MaxConcurrentCalls = 1;
            o.MaxRedirects = 1;
            o.AttemptTimeout = TimeSpan.FromSeconds(1);
            o.RetryBudget.Capacity = 5;
            o.RetryBudget.RetryCost = 5;
            o.RetryBudget.TimeoutRetryCost = 5;
        });
        var call = HttpCall.Get(Url);
        switch (failure)
        {
            case "404": Handler.ThenStatus(HttpStatusCode.NotFound); break;
            case "POST 503 without a key": Handler.ThenStatus(HttpStatusCode.ServiceUnavailable); call = HttpCall.PostJson(Url, new { n = 1 }); break;
            case "Retry-After past MaxRetryAfter": Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, RetryAfterSeconds(3600)); break;
            case "redirect limit": Handler.Then(Redirect(HttpStatusCode.Found, "/a")).Then(Redirect(HttpStatusCode.Found, "/b")); break;
            case "redirect down to http": Handler.Then(Redirect(HttpStatusCode.Found, "http://api.example.test/orders/1")); break;
            case "TLS failure":
                Handler.ThenThrow(new HttpRequestException(HttpRequestError.SecureConnectionError, "bad certificate"));
                break;
            case "POST cut off":
                Handler.ThenThrow(new HttpRequestException(HttpRequestError.ResponseEnded, "ended"));
                call = HttpCall.PostJson(Url, new { n = 1 });
                break;
            case "POST timed out": Handler.ThenHang(); call = HttpCall.PostJson(Url, new { n = 1 }); break;
            case "deadline": Handler.ThenHang(); call = call with { Deadline = TimeSpan.FromMilliseconds(500) }; break;
        }
        coordinator.Tell(new ExecuteCall(call));
        if (failure is "POST timed out" or "deadline")
        {
            Seen.ExpectMsg<SeenRequest>(TimeSpan.FromSeconds(10));
            Scheduler.Advance(TimeSpan.FromSeconds(1));
        }
        Assert.Equal(call.Id, ExpectMsg<CallFailed>(TimeSpan.FromSeconds(10)).CallId);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        if (failure is "Retry-After past MaxRetryAfter")
        {
            Sync(coordinator);
            Scheduler.Advance(TimeSpan.FromSeconds(31)); // the host stays paused for Retry:MaxRetryAfter, for every call
        }

        // The next call runs on the same actor, and the whole budget is there for its retry.
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var next = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(next));
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>(TimeSpan.FromSeconds(10)).Delay);
        var ok = ExpectMsg<CallSucceeded>(TimeSpan.FromSeconds(10));
        Assert.Equal((next.Id, 2), (ok.CallId, ok.Attempts));
        ok.Response.Dispose();
    }

    [Fact]
    public void An_error_status_with_a_Location_header_is_the_answer_not_a_redirect()
    {
        Handler.ThenStatus(HttpStatusCode.NotFound, r => r.Headers.Location = new Uri("/orders/2", UriKind.Relative));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Assert.Equal(HttpStatusCode.NotFound, Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).StatusCode);
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void An_actor_made_for_a_single_call_stops_once_it_has_reported()
    {
        var call = HttpCall.Get(Url);
        Sys.ActorOf(Props.Create(() => new SingleCallParent(RequestActor.Props(call, Runtime(null, null), Scheduler.Now, null, false), TestActor)));

        var finished = ExpectMsg<RequestFinished>();
        Assert.IsType<CallSucceeded>(finished.Result).Response.Dispose();
        ExpectMsg("stopped");
    }

    // A TestKit user advances virtual time as soon as the event of a host-paused retry arrives. The event must therefore
    // follow the coordinator's setting up of the host's wait: the RequestActor reports the throttled attempt, then asks for
    // its next permit with the event attached, and the coordinator publishes it once the request waits in the host's
    // queue. Published by the RequestActor itself (as before), the event could overtake both messages in the
    // coordinator's mailbox, and a pause armed after the test's Advance never ended (one CI run in many hit it).
    [Fact]
    public void A_host_paused_retry_is_announced_by_the_coordinator_after_it_has_heard_of_the_pause()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, RetryAfterSeconds(30));
        var call = HttpCall.Get(Url);
        var parent = CreateTestProbe();
        var runtime = Runtime(null, null);
        var child = parent.ChildActorOf(RequestActor.Props(call, runtime, Scheduler.Now,
            new Courier.Requests.Hosts.HostTicket(Courier.Requests.Hosts.HostKey.From(Url), 0, false), false));

        var ended = parent.ExpectMsg<Courier.Requests.Hosts.AttemptEnded>();
        Assert.Equal(TimeSpan.FromSeconds(30), ended.RetryAfter);
        var request = parent.ExpectMsg<Courier.Requests.Hosts.AttemptPermitRequest>();
        var announced = Assert.IsType<RetryScheduled>(request.Announce);
        Assert.Equal((call.Id, TimeSpan.FromSeconds(30)), (announced.CallId, announced.Delay));
        Assert.Contains("waits for its host", announced.Reason);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // the actor publishes nothing itself

        // Through a real coordinator, the event arrives once, and a test advancing the clock on it finds the call resumed.
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable, RetryAfterSeconds(30));
        var coordinator = StartCoordinator();
        var second = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(second));
        Assert.Equal(second.Id, _retries.ExpectMsg<RetryScheduled>().CallId);
        Scheduler.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal(2, ExpectMsg<CallSucceeded>().Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        child.Tell(PoisonPill.Instance);
    }

    /// <summary>The parent of one unpooled RequestActor: admits every attempt, and passes its report and its end on.</summary>
    private sealed class SingleCallParent : ReceiveActor
    {
        public SingleCallParent(Props child, IActorRef report)
        {
            Context.Watch(Context.ActorOf(child));
            Receive<Courier.Requests.Hosts.AttemptPermitRequest>(m => Sender.Tell(new Courier.Requests.Hosts.AttemptPermitGranted(
                new Courier.Requests.Hosts.HostTicket(m.Host, 0, false))));
            Receive<Courier.Requests.Hosts.AttemptEnded>(_ => { });
            Receive<RequestFinished>(m => report.Tell(m));
            Receive<Terminated>(_ => report.Tell("stopped")); // a Terminated passed on would be dropped: the receiver watches nobody
        }
    }
}
