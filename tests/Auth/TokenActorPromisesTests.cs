using Akka.Actor;
using Courier.Auth;
using Courier.Errors;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// Issue 15, items 1 to 6: what a user relies on from the TokenActor, stated as the user would state it, with exact
/// counts and exact times on the TestScheduler so that a changed rule cannot pass.
/// </summary>
public sealed class TokenActorPromisesTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    // ---- 1. sign-out and sign-in ----------------------------------------------------------------------------

    [Fact]
    public void After_SignOut_the_token_is_no_longer_handed_out_nor_stored_until_the_next_SignIn()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new GetToken(1));
        Assert.Equal("token-1", ExpectMsg<TokenGranted>().AccessToken);

        tokens.Tell(SignOut.Instance);
        tokens.Tell(new GetToken(2));
        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Equal("Authentication failed: signed out", error.Message);
        AwaitAssert(() => Assert.Null(store.Current));
        Assert.Equal(1, store.Clears);
        tokens.Tell(new TokenRejected(3, 1));
        Assert.Equal(3, ExpectMsg<TokenUnavailable>().CallId);
        Assert.Equal(0, Refresher.Calls); // a refused call after a sign-out does not refresh the dropped pair
        Assert.Equal("SignedOut", StatusOf(tokens).State);

        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);
        Assert.Equal("refresh-9", store.Current!.RefreshToken);
        tokens.Tell(new GetToken(4));
        Assert.Equal(("token-9", 2L), Token(ExpectMsg<TokenGranted>()));
    }

    [Fact]
    public void A_SignOut_during_a_refresh_fails_the_waiting_calls_and_the_late_answer_is_not_used()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        tokens.Tell(SignOut.Instance);
        Assert.Equal("Authentication failed: signed out", ExpectMsg<TokenUnavailable>().Error.Message);
        Refresher.Answer(1, ControlledRefresher.Refreshed("token-2", "refresh-2")); // the endpoint answers anyway (or not: cancelled)

        tokens.Tell(new GetToken(2));
        Assert.Equal(2, ExpectMsg<TokenUnavailable>().CallId);
        AwaitAssert(() => Assert.Null(store.Current));
        Assert.Empty(store.Saved);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
    }

    [Fact]
    public void A_SignIn_during_a_refresh_is_not_dropped_the_waiting_calls_continue_with_the_signed_in_token()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-9", 2L), Token(granted));
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);
        Assert.Equal("refresh-9", store.Current!.RefreshToken);

        // The abandoned refresh's answer (for refresh-1) does not replace the signed-in pair.
        Refresher.Answer(1, ControlledRefresher.Refreshed("token-2", "refresh-2"));
        tokens.Tell(new GetToken(2));
        Assert.Equal(("token-9", 2L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal("refresh-9", store.Current!.RefreshToken);
    }

    // ---- 2. the per-attempt timeout ---------------------------------------------------------------------

    [Fact]
    public void A_hung_token_endpoint_is_cut_off_at_the_attempt_timeout_and_retried_after_the_backoff()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1")); // attempt 10 s, refresh 30 s
        var failures = Events<TokenRefreshFailed>();
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        Scheduler.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromTicks(1));
        failures.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Assert.False(Refresher.Requests[0].WasCancelled);
        Scheduler.Advance(TimeSpan.FromTicks(1));
        var failed = failures.ExpectMsg<TokenRefreshFailed>();
        Assert.Equal("the token endpoint did not answer within 10 s", failed.Reason);
        Assert.Equal((1, (TimeSpan?)TimeSpan.FromMilliseconds(100)), (failed.Attempt, failed.RetryIn));
        Assert.True(Refresher.Requests[0].WasCancelled);

        Scheduler.Advance(TimeSpan.FromMilliseconds(99));
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.Equal(("token-2", 2L), Token(ExpectMsg<TokenGranted>()));
    }

    // ---- 3. giving up after the last retry ------------------------------------------------------------------

    [Fact]
    public void After_exactly_RefreshMaxRetries_retries_the_refresh_gives_up_and_every_waiting_call_fails()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"), configure: s => RefreshRegressionTests.Copy(s, maxRetries: 2));
        var failures = Events<TokenRefreshFailed>();
        tokens.Tell(new TokenRejected(1, 1));
        tokens.Tell(new GetToken(2));
        AwaitCalls(1);

        Refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));
        Assert.Equal((1, (TimeSpan?)TimeSpan.FromMilliseconds(100)), Failure(failures.ExpectMsg<TokenRefreshFailed>()));
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        AwaitCalls(2);
        Refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));
        Assert.Equal((2, (TimeSpan?)TimeSpan.FromMilliseconds(200)), Failure(failures.ExpectMsg<TokenRefreshFailed>()));
        Scheduler.Advance(TimeSpan.FromMilliseconds(200));
        AwaitCalls(3);
        ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // still waiting: the third request is the last one
        Refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));

        Assert.Equal((3, (TimeSpan?)null), Failure(failures.ExpectMsg<TokenRefreshFailed>()));
        var first = ExpectMsg<TokenUnavailable>();
        var second = ExpectMsg<TokenUnavailable>();
        Assert.Equal(new long[] { 1, 2 }, new[] { first.CallId, second.CallId });
        Assert.Equal("Authentication failed: the token refresh failed 3 time(s): the token endpoint answered 503", first.Error.Message);
        Scheduler.Advance(TimeSpan.FromSeconds(60));
        StatusOf(tokens);
        Assert.Equal(3, Refresher.Calls);
        var status = StatusOf(tokens);
        Assert.Equal(("Ready", 1L), (status.State, status.Generation)); // not signed out: the next call tries again
    }

    // ---- 4. nothing to refresh with ---------------------------------------------------------------------

    [Fact]
    public void A_refused_token_without_a_refresh_token_signs_out_with_a_clear_error()
    {
        var tokens = StartTokens(new TokenPair("token-1", null));
        var events = Events<AuthenticationFailed>();
        tokens.Tell(new TokenRejected(1, 1));

        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Equal("Authentication failed: the access token was refused or has expired, and there is no refresh token to renew it", error.Message);
        Assert.Same(error, events.ExpectMsg<AuthenticationFailed>().Error);
        Assert.Equal(0, Refresher.Calls);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
    }

    [Fact]
    public void A_refused_token_without_a_token_endpoint_signs_out_with_an_error_naming_the_setting()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"), withRefresher: false);
        var events = Events<AuthenticationFailed>();
        tokens.Tell(new TokenRejected(1, 1));

        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Equal("Authentication failed: the access token was refused or has expired, and no token endpoint is configured (Courier:Auth:RefreshEndpoint)", error.Message);
        Assert.Same(error, events.ExpectMsg<AuthenticationFailed>().Error);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
    }

    // ---- 5. the proactive margin ------------------------------------------------------------------------

    [Theory]
    // lifetime, margin, fraction -> refreshed this long before expiry: min(margin, fraction × lifetime)
    [InlineData(300, 60, 0.5, 60)]  // Max would give 150; fraction / would give 600
    [InlineData(100, 60, 0.25, 25)] // Max would give 60; / would give 400
    public void The_proactive_refresh_starts_at_expiry_minus_the_smaller_of_the_margin_and_the_fraction_of_the_lifetime(
        int lifetime, int margin, double fraction, int early)
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(lifetime)), configure: s => new TokenSettings
        {
            Refresher = s.Refresher, Store = s.Store, RefreshTimeout = s.RefreshTimeout, RefreshAttemptTimeout = s.RefreshAttemptTimeout,
            RefreshMaxRetries = s.RefreshMaxRetries, DelayBeforeRetry = s.DelayBeforeRetry,
            ProactiveRefresh = true, ProactiveMargin = TimeSpan.FromSeconds(margin), ProactiveFraction = fraction,
        });

        Scheduler.Advance(TimeSpan.FromSeconds(lifetime - early) - TimeSpan.FromTicks(1));
        StatusOf(tokens);
        Assert.Equal(0, Refresher.Calls);
        Scheduler.Advance(TimeSpan.FromTicks(1));
        AwaitCalls(1);
        Assert.Equal("Refreshing", StatusOf(tokens).State);
    }

    [Fact]
    public void Without_proactive_refresh_no_refresh_is_requested_before_the_token_is_needed()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(30))); // proactive off
        Scheduler.Advance(TimeSpan.FromSeconds(60));
        StatusOf(tokens);
        Assert.Equal(0, Refresher.Calls);
        tokens.Tell(new GetToken(1)); // expired: now it refreshes
        AwaitCalls(1);
    }

    // ---- 6. a definitive refusal clears the store -------------------------------------------------------

    [Fact]
    public void A_refused_refresh_token_clears_the_store_so_revoked_credentials_do_not_come_back_after_a_restart()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(new TokenRefreshResult.Rejected("the token endpoint answered 400 (invalid_grant)"));

        Assert.Equal("Authentication failed: the refresh token was refused (the token endpoint answered 400 (invalid_grant)); sign in again",
            ExpectMsg<TokenUnavailable>().Error.Message);
        AwaitAssert(() => Assert.Equal(1, store.Clears));
        Assert.Null(store.Current);

        // A restart reads the store: signed out, not the revoked pair.
        var restarted = StartTokens(null, store);
        Assert.Equal("SignedOut", StatusOf(restarted).State);
    }

    [Fact]
    public async Task A_store_write_past_its_bound_publishes_TokenStoreWriteOverdue_and_the_new_pair_is_used()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1")) { HoldSaves = true };
        var tokens = StartTokens(null, store, s => new TokenSettings
        {
            Refresher = s.Refresher, Store = s.Store, RefreshTimeout = s.RefreshTimeout, RefreshAttemptTimeout = s.RefreshAttemptTimeout,
            RefreshMaxRetries = s.RefreshMaxRetries, DelayBeforeRetry = s.DelayBeforeRetry, StoreWriteTimeout = TimeSpan.FromSeconds(3),
        });
        var overdue = Events<TokenStoreWriteOverdue>();
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        using (var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
            while (store.SavesStarted == 0) await Task.Delay(5, cancel.Token);
        Assert.Equal("Storing", StatusOf(tokens).State);

        Scheduler.Advance(TimeSpan.FromSeconds(3));
        Assert.Equal(new TokenStoreWriteOverdue(2, TimeSpan.FromSeconds(3)), overdue.ExpectMsg<TokenStoreWriteOverdue>());
        Assert.Equal(("token-2", 2L), Token(ExpectMsg<TokenGranted>()));

        store.ReleaseSaves(); // the write lands later, and holds the rotated pair
        AwaitAssert(() => Assert.Equal("refresh-2", store.Current!.RefreshToken));
    }

    private static (string, long) Token(TokenGranted granted) => (granted.AccessToken, granted.Generation);

    private static (int, TimeSpan?) Failure(TokenRefreshFailed failed) => (failed.Attempt, failed.RetryIn);
}
