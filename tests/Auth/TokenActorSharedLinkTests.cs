using Akka.Actor;
using Akka.TestKit;
using Courier.Auth;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The TokenActor with a shared refresh step (cluster mode), the link played by a probe: issue 15, item 7.
/// </summary>
public sealed class TokenActorSharedLinkTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    private IActorRef StartShared(TestProbe link, ITokenStore store, bool proactive = false) =>
        StartTokens(null, store, s => new TokenSettings
        {
            Store = s.Store, RefreshTimeout = TimeSpan.FromSeconds(30), RefreshAttemptTimeout = s.RefreshAttemptTimeout,
            RefreshMaxRetries = s.RefreshMaxRetries, DelayBeforeRetry = s.DelayBeforeRetry, ProactiveRefresh = proactive,
        }.WithSharedLink(Props.Create(() => new ForwardTo(link.Ref)), store), withRefresher: false);

    [Fact]
    public void Calls_made_before_any_shared_credentials_fail_at_the_refresh_timeout_and_later_ones_get_the_shared_pair()
    {
        var link = CreateTestProbe();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new GetToken(1));
        StatusOf(tokens); // the call is stashed and the deadline set

        Scheduler.Advance(TimeSpan.FromSeconds(30) - TimeSpan.FromTicks(1));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromTicks(1));
        var failed = ExpectMsg<TokenUnavailable>();
        Assert.Equal((1L, "Authentication failed: no shared credentials arrived within 30 s"), (failed.CallId, failed.Error.Message));

        tokens.Tell(new GetToken(2)); // still waiting for the first shared pair
        tokens.Tell(new SharedCredentials(1, new TokenPair("token-1", "refresh-1"), null, false, null, 0));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal((2L, "token-1", 1L), (granted.CallId, granted.AccessToken, granted.Generation));
    }

    [Fact]
    public void An_adopted_shared_pair_is_stored_and_its_proactive_refresh_is_asked_of_the_link_at_expiry_minus_the_margin()
    {
        var link = CreateTestProbe();
        var store = new HeldStore();
        var tokens = StartShared(link, store, proactive: true);
        var pair = new TokenPair("token-5", "refresh-5", Scheduler.Now.AddSeconds(300));

        tokens.Tell(new SharedCredentials(5, pair, null, false, "rejected", 1));
        tokens.Tell(new GetToken(1));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-5", 5L), (granted.AccessToken, granted.Generation));
        AwaitAssert(() => Assert.Equal(pair, store.Current)); // a restarted cluster can seed from this node

        Scheduler.Advance(TimeSpan.FromSeconds(240) - TimeSpan.FromTicks(1)); // 300 s - min(60 s, 0.2 × 300 s)
        StatusOf(tokens);
        link.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(new SharedRefreshRequest(5, "proactive"), link.FishForMessage<SharedRefreshRequest>(_ => true));
    }

    [Fact]
    public void A_refused_call_asks_the_link_for_the_successor_and_continues_with_the_pair_the_link_adopts()
    {
        var link = CreateTestProbe();
        var events = Events<TokenRefreshed>();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(3, new TokenPair("token-3", "refresh-3"), null, false, null, 0));

        tokens.Tell(new TokenRejected(1, 3));
        Assert.Equal(new SharedRefreshRequest(3, "rejected"), link.FishForMessage<SharedRefreshRequest>(_ => true));
        Assert.Equal(("Refreshing", 1), (StatusOf(tokens).State, StatusOf(tokens).Waiting));
        tokens.Tell(new SharedCredentials(3, new TokenPair("stale", "stale"), null, false, "rejected", 1)); // not newer: ignored
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        var expires = Scheduler.Now.AddMinutes(5);
        tokens.Tell(new SharedCredentials(4, new TokenPair("token-4", "refresh-4", expires), null, false, "rejected", 2));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal((1L, "token-4", 4L), (granted.CallId, granted.AccessToken, granted.Generation));
        Assert.Equal(new TokenRefreshed(4, expires, "rejected", 2, 1), events.ExpectMsg<TokenRefreshed>());
        var status = StatusOf(tokens);
        Assert.Equal(("Ready", 4L, 1L, 0), (status.State, status.Generation, status.Refreshes, status.Waiting));
    }

    [Fact]
    public void A_shared_refresh_that_failed_fails_the_waiting_calls_once_and_keeps_the_pair()
    {
        var link = CreateTestProbe();
        var events = Events<TokenRefreshFailed>();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, null, 0));
        tokens.Tell(new TokenRejected(1, 2));
        link.FishForMessage<SharedRefreshRequest>(_ => true);

        tokens.Tell(new SharedRefreshFailed(1, "an older generation's failure", 1)); // not this refresh: ignored
        tokens.Tell(new SharedRefreshFailed(2, "503 Service Unavailable", 4));
        var failed = ExpectMsg<TokenUnavailable>();
        Assert.Equal(1L, failed.CallId);
        Assert.Contains("the token refresh failed 4 time(s): 503 Service Unavailable", failed.Error.Message);
        Assert.Equal(new TokenRefreshFailed("503 Service Unavailable", 4, null), events.ExpectMsg<TokenRefreshFailed>());
        events.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        tokens.Tell(new GetToken(2)); // the pair stays: the next call gets it
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-2", 2L), (granted.AccessToken, granted.Generation));
        Assert.Equal("Ready", StatusOf(tokens).State);
    }

    [Fact]
    public void Shared_credentials_refused_elsewhere_sign_this_node_out_announce_it_and_clear_its_store()
    {
        var link = CreateTestProbe();
        var events = Events<AuthenticationFailed>();
        var store = new HeldStore();
        var tokens = StartShared(link, store);
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, null, 0));
        tokens.Tell(new TokenRejected(1, 2));
        link.FishForMessage<SharedRefreshRequest>(_ => true);

        tokens.Tell(new SharedCredentials(3, null, "invalid_grant", true, null, 1));
        var failed = ExpectMsg<TokenUnavailable>();
        Assert.Contains("the refresh token was refused (invalid_grant); sign in again", failed.Error.Message);
        Assert.Contains("invalid_grant", events.ExpectMsg<AuthenticationFailed>().Reason);
        AwaitAssert(() => Assert.Equal(1, store.Clears));
        Assert.Null(store.Current);
        Assert.Equal(("SignedOut", 3L), (StatusOf(tokens).State, StatusOf(tokens).Generation));
        tokens.Tell(new GetToken(2));
        Assert.Contains("sign in again", ExpectMsg<TokenUnavailable>().Error.Message);
    }

    [Fact]
    public void A_sign_out_on_another_node_signs_this_one_out_quietly()
    {
        var link = CreateTestProbe();
        var events = Events<AuthenticationFailed>();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, null, 0));

        tokens.Tell(new SharedCredentials(3, null, null, false, null, 0));
        tokens.Tell(new GetToken(1));
        Assert.Equal("Authentication failed: signed out", ExpectMsg<TokenUnavailable>().Error.Message);
        events.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        // A pair signed in anywhere afterwards brings it back.
        tokens.Tell(new SharedCredentials(4, new TokenPair("token-4", "refresh-4"), null, false, null, 0));
        tokens.Tell(new GetToken(2));
        Assert.Equal("token-4", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public void Sign_in_and_sign_out_go_to_the_link_which_answers_the_caller()
    {
        var link = CreateTestProbe();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(1, new TokenPair("token-1", "refresh-1"), null, false, null, 0));

        var pair = new TokenPair("token-9", "refresh-9", Scheduler.Now.AddHours(1));
        tokens.Tell(new SignIn(pair));
        Assert.Equal(new SharedSignIn(pair), link.FishForMessage<SharedSignIn>(_ => true));
        link.Reply(new SignedIn(2)); // forwarded: the link's answer reaches the one who signed in
        Assert.Equal(new SignedIn(2), ExpectMsg<SignedIn>());

        tokens.Tell(SignOut.Instance);
        link.FishForMessage<SharedSignOut>(_ => true);
        tokens.Tell(new GetToken(1));
        Assert.Contains("signed out", ExpectMsg<TokenUnavailable>().Error.Message);
    }

    [Fact]
    public void Before_the_first_shared_pair_the_actor_is_Loading_and_the_deadline_counts_from_the_first_waiting_call()
    {
        var link = CreateTestProbe();
        var tokens = StartShared(link, new HeldStore());
        Assert.Equal("Loading", StatusOf(tokens).State);

        tokens.Tell(new GetToken(1));
        StatusOf(tokens);
        Scheduler.Advance(TimeSpan.FromSeconds(20));
        tokens.Tell(new GetToken(2)); // a later call does not push the deadline back
        StatusOf(tokens);
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal(new long[] { 1, 2 }, new[] { ExpectMsg<TokenUnavailable>().CallId, ExpectMsg<TokenUnavailable>().CallId });

        // Still waiting for the first shared pair, not asking the link to refresh a pair it does not have.
        Assert.Equal("Loading", StatusOf(tokens).State);
        link.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_resent_shared_pair_of_the_current_generation_changes_nothing()
    {
        var link = CreateTestProbe();
        var refreshed = Events<TokenRefreshed>();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, "rejected", 1));
        tokens.Tell(new GetToken(1));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        refreshed.ExpectMsg<TokenRefreshed>();

        tokens.Tell(new SharedCredentials(2, new TokenPair("other", "other"), null, false, "rejected", 1)); // the link resends
        tokens.Tell(new GetToken(2));
        Assert.Equal(("token-2", 2L), (ExpectMsg<TokenGranted>().AccessToken, StatusOf(tokens).Generation));
        Assert.Equal(1L, StatusOf(tokens).Refreshes);
        refreshed.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Calls_queued_behind_a_failed_shared_refresh_fail_with_it_instead_of_getting_the_refused_token()
    {
        var link = CreateTestProbe();
        var tokens = StartShared(link, new HeldStore());
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, null, 0));
        tokens.Tell(new TokenRejected(1, 2));
        link.FishForMessage<SharedRefreshRequest>(_ => true);

        // Queued in this order: the failure, then two calls and a status request behind it.
        tokens.Tell(new SharedRefreshFailed(2, "503 Service Unavailable", 4));
        tokens.Tell(new GetToken(2));
        tokens.Tell(new TokenRejected(3, 2));
        tokens.Tell(GetTokenStatus.Instance);
        tokens.Tell(new SharedCredentials(3, new TokenPair("token-3", "refresh-3"), null, false, null, 0)); // kept for after

        var failed = new[] { ExpectMsg<TokenUnavailable>(), ExpectMsg<TokenUnavailable>(), ExpectMsg<TokenUnavailable>() };
        Assert.Equal(new long[] { 1, 2, 3 }, failed.Select(f => f.CallId));
        Assert.All(failed, f => Assert.Contains("the token refresh failed 4 time(s): 503 Service Unavailable", f.Error.Message));
        Assert.Equal("Releasing", ExpectMsg<TokenStatus>().State);

        tokens.Tell(new GetToken(4)); // afterwards the pair that arrived meanwhile is not lost
        Assert.Equal(("token-3", 3L), (ExpectMsg<TokenGranted>().AccessToken, StatusOf(tokens).Generation));
    }

    private sealed class ForwardTo : ReceiveActor
    {
        public ForwardTo(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
