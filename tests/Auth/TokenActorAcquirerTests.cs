using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The TokenActor with an acquirer (the client credentials grant): no refresh token, the same refresh core. Virtual time,
/// an acquirer the test answers by hand.
/// </summary>
public sealed class TokenActorAcquirerTests(ITestOutputHelper output) : TokenActorTestKit(output, honourCancellation: false)
{
    private IActorRef StartAcquiring(string? credential = null, bool proactive = false, TokenPair? stored = null) =>
        StartTokens(stored, configure: s => new TokenSettings
        {
            Acquirer = Refresher,
            Credential = credential,
            Store = s.Store,
            RefreshTimeout = s.RefreshTimeout,
            RefreshAttemptTimeout = s.RefreshAttemptTimeout,
            RefreshMaxRetries = s.RefreshMaxRetries,
            ProactiveRefresh = proactive,
            DelayBeforeRetry = s.DelayBeforeRetry,
        }, withRefresher: false);

    [Fact]
    public void With_no_credentials_the_actor_is_ready_and_the_first_calls_share_one_acquisition()
    {
        var tokens = StartAcquiring();
        Assert.Equal("Ready", StatusOf(tokens).State);

        for (var call = 1; call <= 3; call++) tokens.Tell(new GetToken(call), TestActor);
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("cc-1"));

        var granted = Enumerable.Range(0, 3).Select(_ => ExpectMsg<TokenGranted>()).ToArray();
        Assert.All(granted, g => Assert.Equal("cc-1", g.AccessToken));
        Assert.Equal(1, Refresher.Calls);
        Assert.Equal([ControlledRefresher.Acquisition], Refresher.RefreshTokensSeen);
    }

    [Fact]
    public void A_refused_acquisition_fails_the_waiters_once_and_the_next_call_acquires_again()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartAcquiring();
        tokens.Tell(new GetToken(1), TestActor);
        tokens.Tell(new GetToken(2), TestActor);
        AwaitCalls(1);
        Refresher.Answer(new TokenRefreshResult.Rejected("the token endpoint refused the client credentials with 401 (invalid_client)"));

        var errors = new[] { ExpectMsg<TokenUnavailable>(), ExpectMsg<TokenUnavailable>() };
        Assert.All(errors, e => Assert.Contains("invalid_client", e.Error.Message));
        Assert.All(errors, e => Assert.DoesNotContain("sign in", e.Error.Message));
        Assert.All(errors, e => Assert.DoesNotContain("refresh token", e.Error.Message));
        failed.ExpectMsg<AuthenticationFailed>();
        failed.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Assert.Equal("Ready", StatusOf(tokens).State);

        // The client's secret was fixed meanwhile: the next call acquires again.
        tokens.Tell(new GetToken(3), TestActor);
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("cc-2"));
        Assert.Equal("cc-2", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public void A_timed_out_acquisition_is_retried_without_waiting_for_it_to_end()
    {
        var tokens = StartAcquiring();
        tokens.Tell(new GetToken(1), TestActor);
        AwaitCalls(1);

        // The acquirer ignores cancellation: with a refresh token the retry would wait one more attempt timeout (in doubt).
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        StatusOf(tokens); // the timeout is handled: the retry timer is set
        Scheduler.Advance(DelayBeforeRetry(0));
        AwaitCalls(2);
        Assert.False(Refresher.Requests[0].IsEnded);
        Assert.NotNull(Refresher.Requests[0].CancelRequestedAt); // the timed-out request was told to stop all the same

        Refresher.Answer(2, ControlledRefresher.Refreshed("cc-2"));
        Assert.Equal("cc-2", ExpectMsg<TokenGranted>().AccessToken);
        // The first one's late answer is dropped: the token in use stays the second.
        Refresher.Answer(1, ControlledRefresher.Refreshed("cc-late"));
        tokens.Tell(new GetToken(2), TestActor);
        Assert.Equal("cc-2", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(2, Refresher.Calls);
    }

    [Fact]
    public void The_token_is_acquired_again_ahead_of_its_expiry_with_no_call_waiting()
    {
        var tokens = StartAcquiring(proactive: true);
        tokens.Tell(new GetToken(1), TestActor);
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("cc-1", expiresInSeconds: 100));
        ExpectMsg<TokenGranted>();
        StatusOf(tokens); // the proactive timer is set

        // 100 s lifetime, margin min(60 s, 20 %) = 20 s.
        Scheduler.Advance(TimeSpan.FromSeconds(79));
        Assert.Equal(1, Refresher.Calls);
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("cc-2", expiresInSeconds: 100));
        AwaitAssert(() =>
        {
            tokens.Tell(new GetToken(2), TestActor);
            Assert.Equal("cc-2", ExpectMsg<TokenGranted>().AccessToken);
        }, TimeSpan.FromSeconds(5), TimeSpan.FromMilliseconds(20));
    }

    [Fact]
    public void A_failure_names_the_credential_it_belongs_to()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartAcquiring(credential: "billing");
        tokens.Tell(new GetToken(1), TestActor);
        AwaitCalls(1);
        Refresher.Answer(new TokenRefreshResult.Rejected("invalid_client"));

        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Equal("billing", error.Credential);
        Assert.Contains("credential 'billing'", error.Message);
        Assert.Equal("billing", failed.ExpectMsg<AuthenticationFailed>().Credential);
    }

    [Fact]
    public void A_token_in_the_store_is_used_rather_than_acquired_again()
    {
        var tokens = StartAcquiring(stored: new TokenPair("cc-stored", null, Scheduler.Now.AddHours(1)));
        tokens.Tell(new GetToken(1), TestActor);
        Assert.Equal(("cc-stored", 1L), (ExpectMsg<TokenGranted>().AccessToken, StatusOf(tokens).Generation));
        Assert.Equal(0, Refresher.Calls);
    }

    [Fact]
    public void After_SignOut_an_acquisition_that_answers_late_does_not_bring_a_token_back()
    {
        var tokens = StartAcquiring();
        tokens.Tell(new GetToken(1), TestActor);
        AwaitCalls(1);
        tokens.Tell(SignOut.Instance);
        Assert.Equal("Authentication failed: signed out", ExpectMsg<TokenUnavailable>().Error.Message);
        Assert.Equal("SignedOut", StatusOf(tokens).State);

        Refresher.Answer(1, ControlledRefresher.Refreshed("cc-late")); // the endpoint answers anyway
        Assert.Equal("SignedOut", StatusOf(tokens).State);
        tokens.Tell(new GetToken(2), TestActor);
        Assert.Equal("Authentication failed: signed out", ExpectMsg<TokenUnavailable>().Error.Message);
        Assert.Equal(1, Refresher.Calls);
    }
}
