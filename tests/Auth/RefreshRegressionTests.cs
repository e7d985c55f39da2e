using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// Issue 9, items 1 to 5: each failed on the TokenActor before the refresh core. A server with reuse detection revokes
/// the whole token family when a refresh token is presented twice, so "a second request with a spent refresh token" is
/// the failure every one of these guards against.
/// </summary>
public sealed class RefreshRegressionTests(ITestOutputHelper output) : TokenActorTestKit(output, honourCancellation: false)
{
    private static readonly TimeSpan AttemptTimeout = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Issue9_1_an_answer_that_arrives_as_its_attempt_times_out_is_adopted_and_no_retry_reuses_the_spent_refresh_token()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        store.HoldSaves = true;
        Scheduler.Advance(AttemptTimeout);                                     // the attempt times out...
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2")); // ...as the server answers with a rotated pair
        await AwaitStoreWriteAsync(store);                                     // the rotated pair is being stored
        Scheduler.Advance(TimeSpan.FromSeconds(1));                            // past the retry delay the timeout had scheduled
        StatusOf(tokens);

        Assert.Equal(new[] { "refresh-1" }, Refresher.RefreshTokensSeen);     // no second request with refresh-1
        store.ReleaseSaves();
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(1, Refresher.Calls);
    }

    [Fact]
    public void Issue9_2_a_refresh_started_after_an_abandoned_one_never_sends_its_refresh_token_while_the_first_request_may_still_be_processed()
    {
        // RefreshTimeout (5 s) shorter than RefreshAttemptTimeout (10 s): valid settings.
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"),
            configure: s => Copy(s, refreshTimeout: TimeSpan.FromSeconds(5)));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        Assert.Contains("did not finish within 5 s", ExpectMsg<TokenUnavailable>().Error.Message);

        tokens.Tell(new TokenRejected(2, 1)); // a new refresh while request 1 (refresh-1) is still on the wire
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);
        Assert.Equal(1, Refresher.MaxInFlight);

        // The late answer of request 1 is the server's rotation of refresh-1: it is adopted, not taken for another request's.
        Refresher.Answer(1, ControlledRefresher.Refreshed("token-2", "refresh-2"));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-2", 2L), (granted.AccessToken, granted.Generation));
        Assert.Equal(1, Refresher.Calls);
        Assert.Equal(1, Refresher.MaxInFlight);
    }

    [Fact]
    public void Issue9_4_a_call_refused_with_an_old_generation_is_not_handed_a_token_known_to_be_expired_but_refreshes()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1")); // proactive refresh off
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2", expiresInSeconds: 30));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);

        Scheduler.Advance(TimeSpan.FromSeconds(31)); // token-2 has expired
        tokens.Tell(new TokenRejected(2, 1));        // a late refusal of a call that had used generation 1
        AwaitCalls(2);
        Assert.Equal("refresh-2", Refresher.RefreshTokensSeen[1]);
        Refresher.Answer(ControlledRefresher.Refreshed("token-3", "refresh-3"));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-3", 3L), (granted.AccessToken, granted.Generation));
    }

    [Fact]
    public async Task Issue9_5_a_store_write_that_never_completes_does_not_keep_the_calls_waiting_forever()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store); // the store write bound is 10 s by default
        store.HoldSaves = true;                // and is never released
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        await AwaitStoreWriteAsync(store);

        Scheduler.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromTicks(1));

        // The server has rotated refresh-1 away: the calls carry on with the new pair from memory.
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        var status = StatusOf(tokens);
        Assert.Equal(("Ready", 2L), (status.State, status.Generation));
    }

    [Fact]
    public void After_an_attempt_timeout_the_retry_waits_for_the_request_in_doubt_to_end()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1")); // attempt 10 s, first retry after 100 ms
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        Scheduler.Advance(AttemptTimeout);                           // timed out at 10 s...
        StatusOf(tokens);
        Scheduler.Advance(TimeSpan.FromSeconds(2));                  // ...and the retry was due at 10.1 s
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);                            // refresh-1 is in doubt: the server may be rotating it
        Refresher.Answer(1, new TokenRefreshResult.Failed("the connection was reset"));
        AwaitCalls(2);                                               // ended without a new pair: now it may be sent again
        Assert.Equal(new[] { "refresh-1", "refresh-1" }, Refresher.RefreshTokensSeen);
        Assert.Equal(1, Refresher.MaxInFlight);
    }

    [Fact]
    public void A_request_in_doubt_that_ends_with_a_new_pair_after_its_timeout_is_adopted_without_a_second_request()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Scheduler.Advance(AttemptTimeout + TimeSpan.FromSeconds(1));

        Refresher.Answer(1, ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.Equal(("token-2", 2L), (ExpectMsg<TokenGranted>() is var g ? (g.AccessToken, g.Generation) : default));
        Scheduler.Advance(TimeSpan.FromSeconds(30));
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);
    }

    [Fact]
    public void A_request_that_ignores_its_cancellation_is_abandoned_one_attempt_timeout_after_it_and_only_then_retried()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        Scheduler.Advance(AttemptTimeout);                                       // cancelled at 10 s; it does not end
        StatusOf(tokens);
        Scheduler.Advance(AttemptTimeout - TimeSpan.FromTicks(1));
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);
        Scheduler.Advance(TimeSpan.FromTicks(1));                                // the in-doubt bound: 10 s after the cancellation
        AwaitCalls(2);
    }

    private static async Task AwaitStoreWriteAsync(HeldStore store)
    {
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (store.SavesStarted == 0) await Task.Delay(5, cancel.Token);
    }

    internal static TokenSettings Copy(TokenSettings s, TimeSpan? refreshTimeout = null, TimeSpan? attemptTimeout = null, int? maxRetries = null) => new()
    {
        Refresher = s.Refresher,
        Store = s.Store,
        Initial = s.Initial,
        RefreshTimeout = refreshTimeout ?? s.RefreshTimeout,
        RefreshAttemptTimeout = attemptTimeout ?? s.RefreshAttemptTimeout,
        RefreshMaxRetries = maxRetries ?? s.RefreshMaxRetries,
        ProactiveRefresh = s.ProactiveRefresh,
        ProactiveMargin = s.ProactiveMargin,
        ProactiveFraction = s.ProactiveFraction,
        DelayBeforeRetry = s.DelayBeforeRetry,
        SharedLink = s.SharedLink,
    };
}

/// <summary>Issue 9, item 3: with a refresher that honours cancellation (the HTTP ones do).</summary>
public sealed class RefreshCancellationRegressionTests(ITestOutputHelper output) : TokenActorTestKit(output, honourCancellation: true)
{
    [Fact]
    public void Issue9_3_an_attempt_timeout_is_counted_once_when_the_cancelled_request_ends()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        var failures = Events<TokenRefreshFailed>();
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        Scheduler.Advance(TimeSpan.FromSeconds(10));
        var failed = failures.ExpectMsg<TokenRefreshFailed>();
        Assert.Equal((1, TimeSpan.FromMilliseconds(100)), (failed.Attempt, failed.RetryIn));
        Assert.Contains("did not answer within 10 s", failed.Reason);
        StatusOf(tokens); // the cancelled request's end has been processed
        failures.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        Scheduler.Advance(TimeSpan.FromMilliseconds(100)); // exactly one retry, at the delay announced
        AwaitCalls(2);
        StatusOf(tokens);
        Assert.Equal(2, Refresher.Calls);
        Assert.True(Refresher.Requests[0].WasCancelled);
    }
}
