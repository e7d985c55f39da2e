using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// What happens to calls, sign-ins and sign-outs that arrive while a refresh is running, while its new pair is being
/// written, or just as it fails; and the edges of "expired". Virtual time, a refresher and a store the test drives.
/// </summary>
public sealed class TokenActorInFlightTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    // ---- while a refresh runs -------------------------------------------------------------------------------

    [Fact]
    public void Calls_refused_or_asking_while_a_refresh_runs_wait_for_it_and_all_continue_with_the_new_token()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1")); // no expiry: token-1 would still look usable
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        tokens.Tell(new TokenRejected(2, 1)); // refused too, while the refresh runs
        tokens.Tell(new GetToken(3));         // must not get the token that was just refused
        Assert.Equal(("Refreshing", 3), (StatusOf(tokens).State, StatusOf(tokens).Waiting));
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));

        var granted = Enumerable.Range(0, 3).Select(_ => ExpectMsg<TokenGranted>()).ToArray();
        Assert.Equal(new long[] { 1, 2, 3 }, granted.Select(g => g.CallId));
        Assert.All(granted, g => Assert.Equal(("token-2", 2L), (g.AccessToken, g.Generation)));
        Assert.Equal(1, Refresher.Calls);
    }

    [Fact]
    public void A_SignIn_is_confirmed_once_stored_even_when_a_refresh_started_before_its_write_landed()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1")) { HoldSaves = true };
        var tokens = StartTokens(null, store);
        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        AwaitAssert(() => Assert.Equal(1, store.SavesStarted));
        tokens.Tell(new TokenRejected(1, 2)); // token-9 refused before its write landed: a refresh with refresh-9
        AwaitCalls(1);
        Assert.Equal("Refreshing", StatusOf(tokens).State);

        store.HoldSaves = false;
        store.ReleaseSaves();
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);

        Refresher.Answer(ControlledRefresher.Refreshed("token-10", "refresh-10"));
        Assert.Equal(("token-10", 3L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal(["refresh-9"], Refresher.RefreshTokensSeen);
        AwaitAssert(() => Assert.Equal("refresh-10", store.Current!.RefreshToken));
    }

    [Fact]
    public void A_SignOut_during_a_refresh_cancels_its_request_and_a_later_SignIn_refreshes_normally()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        tokens.Tell(SignOut.Instance);
        Assert.Equal("Authentication failed: signed out", ExpectMsg<TokenUnavailable>().Error.Message);
        AwaitAssert(() => Assert.True(Refresher.Requests[0].WasCancelled));

        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        ExpectMsg<SignedIn>();
        tokens.Tell(new TokenRejected(2, 2));
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("token-10", "refresh-10"));
        Assert.Equal(("token-10", 3L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal(["refresh-1", "refresh-9"], Refresher.RefreshTokensSeen);
    }

    /// <summary>token-1 refused, refreshed to token-2, and the write of the new pair held by the store.</summary>
    private (IActorRef Tokens, HeldStore Store) RefreshedPairBeingWritten()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1")) { HoldSaves = true };
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        AwaitAssert(() => Assert.Equal(1, store.SavesStarted));
        return (tokens, store);
    }

    // ---- while the new pair is written ----------------------------------------------------------------------

    [Fact]
    public void Calls_arriving_while_the_new_pair_is_written_wait_for_the_write_and_continue_with_the_new_token()
    {
        var (tokens, store) = RefreshedPairBeingWritten();

        tokens.Tell(new GetToken(2));
        tokens.Tell(new TokenRejected(3, 1));
        var status = StatusOf(tokens); // nothing granted before the write lands
        Assert.Equal(("Storing", 3), (status.State, status.Waiting));

        store.ReleaseSaves();
        var granted = Enumerable.Range(0, 3).Select(_ => ExpectMsg<TokenGranted>()).ToArray();
        Assert.Equal(new long[] { 1, 2, 3 }, granted.Select(g => g.CallId));
        Assert.All(granted, g => Assert.Equal(("token-2", 2L), (g.AccessToken, g.Generation)));
    }

    [Fact]
    public void A_refreshed_pair_is_handed_out_only_once_its_own_write_has_landed_not_an_earlier_one()
    {
        // The configured credentials are written at start (held); the refreshed pair's write waits behind it.
        var store = new HeldStore { HoldSaves = true };
        var tokens = StartTokens(null, store, s => s with { Initial = new TokenPair("token-1", "refresh-1") });
        AwaitAssert(() => Assert.Equal(1, store.SavesStarted));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        AwaitAssert(() => Assert.Equal("Storing", StatusOf(tokens).State));

        store.ReleaseSaves(); // the configured pair's write lands; the refreshed pair's write starts, held
        AwaitAssert(() => Assert.Equal(2, store.SavesStarted));
        Assert.Equal("Storing", StatusOf(tokens).State); // still: the landed write was not the refreshed pair's

        store.ReleaseSaves();
        Assert.Equal(("token-2", 2L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal(["refresh-1", "refresh-2"], store.Saved.Select(p => p.RefreshToken));
    }

    [Fact]
    public void A_SignIn_write_landing_while_a_refreshed_pair_is_written_is_confirmed_and_the_call_waits_for_its_own_write()
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1")) { HoldSaves = true };
        var tokens = StartTokens(null, store);
        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        AwaitAssert(() => Assert.Equal(1, store.SavesStarted));
        tokens.Tell(new TokenRejected(1, 2));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-10", "refresh-10"));
        AwaitAssert(() => Assert.Equal("Storing", StatusOf(tokens).State));

        store.ReleaseSaves(); // the sign-in's write lands while the refreshed pair waits for its own
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);
        AwaitAssert(() => Assert.Equal(2, store.SavesStarted));
        Assert.Equal("Storing", StatusOf(tokens).State);

        store.ReleaseSaves();
        Assert.Equal(("token-10", 3L), Token(ExpectMsg<TokenGranted>()));
    }

    [Fact]
    public void A_SignOut_while_the_new_pair_is_written_fails_the_waiting_calls_and_the_store_ends_empty()
    {
        var (tokens, store) = RefreshedPairBeingWritten();

        tokens.Tell(SignOut.Instance);
        var failed = ExpectMsg<TokenUnavailable>();
        Assert.Equal((1L, "Authentication failed: signed out"), (failed.CallId, failed.Error.Message));

        store.ReleaseSaves(); // the refreshed pair lands, then the clear queued behind it
        AwaitAssert(() => Assert.Equal(1, store.Clears));
        Assert.Null(store.Current);
        tokens.Tell(new GetToken(2));
        Assert.Equal(2, ExpectMsg<TokenUnavailable>().CallId);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
    }

    [Fact]
    public void A_SignIn_while_the_new_pair_is_written_wins_the_waiting_calls_get_it_and_it_is_what_the_store_keeps()
    {
        var (tokens, store) = RefreshedPairBeingWritten();

        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        Assert.Equal(("token-9", 2L), Token(ExpectMsg<TokenGranted>()));

        store.HoldSaves = false;
        store.ReleaseSaves(); // the refreshed pair lands first, then the signed-in one
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);
        Assert.Equal("refresh-9", store.Current!.RefreshToken);
        tokens.Tell(new GetToken(2));
        Assert.Equal(("token-9", 2L), Token(ExpectMsg<TokenGranted>()));
    }

    // ---- the trigger, and the edge of "expired" -------------------------------------------------------------

    [Fact]
    public void The_refresh_says_why_it_ran_and_a_token_is_no_longer_handed_out_at_its_expiry_instant()
    {
        var refreshed = Events<TokenRefreshed>();
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(100)));

        tokens.Tell(new TokenRejected(1, 1)); // refused although not expired
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2", expiresInSeconds: 100));
        ExpectMsg<TokenGranted>();
        Assert.Equal("rejected", refreshed.ExpectMsg<TokenRefreshed>().Trigger);

        Scheduler.Advance(TimeSpan.FromSeconds(100) - TimeSpan.FromTicks(1));
        tokens.Tell(new GetToken(2));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken); // one tick before its expiry: still good
        Scheduler.Advance(TimeSpan.FromTicks(1));
        tokens.Tell(new GetToken(3)); // exactly at its expiry: no longer handed out
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("token-3", "refresh-3", expiresInSeconds: 100));
        Assert.Equal(("token-3", 3L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal("expired", refreshed.ExpectMsg<TokenRefreshed>().Trigger);

        // A late refusal of token-2 while token-3 has expired too: a refresh, for expiry, not for that refusal.
        Scheduler.Advance(TimeSpan.FromSeconds(100));
        tokens.Tell(new TokenRejected(4, 2));
        AwaitCalls(3);
        Refresher.Answer(ControlledRefresher.Refreshed("token-4", "refresh-4"));
        Assert.Equal(("token-4", 4L), Token(ExpectMsg<TokenGranted>()));
        Assert.Equal("expired", refreshed.ExpectMsg<TokenRefreshed>().Trigger);
    }

    [Fact]
    public void A_token_already_expired_or_expiring_now_at_start_is_not_refreshed_until_a_call_needs_it()
    {
        foreach (var age in new[] { 0, 10 })
        {
            var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-age)),
                configure: s => s with { ProactiveRefresh = true });
            Scheduler.Advance(TimeSpan.FromSeconds(1));
            Assert.Equal("Ready", StatusOf(tokens).State);
            Assert.Equal(0, Refresher.Calls);
            Sys.Stop(tokens);
        }
    }

    // ---- sign-out, and what a sign-out says ----------------------------------------------------------------

    [Fact]
    public void A_SignOut_the_user_asked_for_is_not_reported_as_an_authentication_failure()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        tokens.Tell(SignOut.Instance);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
        failed.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Without_a_token_endpoint_a_named_credential_names_its_own_setting()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"), configure: s => s with { Credential = "billing" }, withRefresher: false);
        tokens.Tell(new TokenRejected(1, 1));
        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Contains("no token endpoint is configured (Courier:Credentials:billing:RefreshEndpoint)", error.Message);
        Assert.Equal("billing", error.Credential);
    }

    [Fact]
    public void Credentials_with_neither_an_access_token_nor_a_refresh_token_sign_out_saying_so()
    {
        var tokens = StartTokens(new TokenPair("", null));
        tokens.Tell(new GetToken(1));
        Assert.Equal("Authentication failed: there is no access token and no refresh token", ExpectMsg<TokenUnavailable>().Error.Message);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
        Assert.Equal(0, Refresher.Calls);
    }

    [Fact]
    public void Credentials_without_an_access_token_publish_no_snapshot_for_calls_to_read()
    {
        var cell = new TokenSnapshotCell();
        var tokens = StartTokens(new TokenPair("", "refresh-1"), configure: s => s with { Snapshot = cell });
        Assert.Equal("Ready", StatusOf(tokens).State);
        Assert.Null(cell.Current); // a call asks the actor, which refreshes first
    }

    // ---- sign-in: the expiry of a JWT ----------------------------------------------------------------------

    [Fact]
    public void A_signed_in_JWT_without_an_expiry_takes_the_one_in_its_exp_claim_and_a_given_expiry_wins_over_it()
    {
        var exp = DateTimeOffset.FromUnixTimeSeconds(2_000_000_000);
        var jwt = "eyJhbGciOiJub25lIn0." + Convert.ToBase64String("{\"exp\":2000000000}"u8.ToArray()).TrimEnd('=') + ".sig";
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));

        tokens.Tell(new SignIn(new TokenPair(jwt, "refresh-2")));
        ExpectMsg<SignedIn>();
        Assert.Equal(exp, StatusOf(tokens).ExpiresAt);

        var given = exp.AddHours(-1);
        tokens.Tell(new SignIn(new TokenPair(jwt, "refresh-3", given)));
        ExpectMsg<SignedIn>();
        Assert.Equal(given, StatusOf(tokens).ExpiresAt);

        tokens.Tell(new SignIn(new TokenPair("opaque", "refresh-4")));
        ExpectMsg<SignedIn>();
        Assert.Null(StatusOf(tokens).ExpiresAt);
    }

    private static (string, long) Token(TokenGranted granted) => (granted.AccessToken, granted.Generation);
}
