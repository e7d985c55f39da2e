using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The refresh core after its refresh was given up (the refresh deadline passed while the request was on the wire):
/// a late success rotated the refresh token at the server and is adopted; a late failure changes nothing. Also: a
/// refresher that throws is reported with what it threw, and a stopping actor cancels the request in flight.
/// </summary>
public sealed class RefreshLateAnswerTests(ITestOutputHelper output) : TokenActorTestKit(output, honourCancellation: false)
{
    private IActorRef StartWithShortDeadline() =>
        StartTokens(new TokenPair("token-1", "refresh-1"), configure: s => s with { RefreshTimeout = TimeSpan.FromSeconds(5) });

    private void GiveUpTheRefresh(IActorRef tokens)
    {
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Scheduler.Advance(TimeSpan.FromSeconds(5)); // the refresh deadline, before the 10 s attempt timeout
        Assert.Contains("did not finish within 5 s", ExpectMsg<TokenUnavailable>().Error.Message);
    }

    [Fact]
    public void A_late_success_of_a_refresh_given_up_on_is_adopted_because_the_old_refresh_token_is_spent()
    {
        var refreshed = Events<TokenRefreshed>();
        var tokens = StartWithShortDeadline();
        GiveUpTheRefresh(tokens);

        Refresher.Answer(1, ControlledRefresher.Refreshed("token-2", "refresh-2"));
        var late = refreshed.ExpectMsg<TokenRefreshed>();
        Assert.Equal((2L, "late answer", 0), (late.Generation, late.Trigger, late.Waiting));

        tokens.Tell(new GetToken(2));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-2", 2L), (granted.AccessToken, granted.Generation));
        Assert.Equal(1, Refresher.Calls);
    }

    [Fact]
    public void A_late_failure_of_a_refresh_given_up_on_changes_nothing()
    {
        var failures = Events<TokenRefreshFailed>();
        var refreshed = Events<TokenRefreshed>();
        var tokens = StartWithShortDeadline();
        GiveUpTheRefresh(tokens);

        Refresher.Answer(1, new TokenRefreshResult.Failed("503 Service Unavailable"));
        StatusOf(tokens);
        failures.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        refreshed.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        tokens.Tell(new GetToken(2));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-1", 1L), (granted.AccessToken, granted.Generation));
        Scheduler.Advance(TimeSpan.FromSeconds(30));
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls); // no retry of a refresh nobody waits for
    }

    [Fact]
    public void A_refresh_waiting_behind_a_request_in_doubt_goes_out_as_soon_as_that_request_ends()
    {
        var tokens = StartWithShortDeadline();
        GiveUpTheRefresh(tokens);
        tokens.Tell(new TokenRejected(2, 1)); // a new refresh while request 1 (refresh-1) is in doubt
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);

        Refresher.Answer(1, new TokenRefreshResult.Failed("connection reset")); // request 1 ends without rotating anything
        AwaitCalls(2);                                                           // at once, not at the in-doubt bound
        Assert.Equal(["refresh-1", "refresh-1"], Refresher.RefreshTokensSeen);
        Refresher.Answer(2, ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public void A_refresh_of_a_signed_in_pair_waits_for_the_old_pairs_request_in_doubt_and_goes_out_as_soon_as_it_ends()
    {
        var tokens = StartWithShortDeadline();
        GiveUpTheRefresh(tokens);                          // request 1 (refresh-1) is in doubt
        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        Assert.Equal(2, ExpectMsg<SignedIn>().Generation);
        tokens.Tell(new TokenRejected(2, 2));              // token-9 refused: refresh-9 must wait for request 1
        StatusOf(tokens);
        Assert.Equal(1, Refresher.Calls);

        Refresher.Answer(1, new TokenRefreshResult.Failed("connection reset")); // request 1 ends
        AwaitCalls(2);                                                           // at once, not at the in-doubt bound
        Assert.Equal(["refresh-1", "refresh-9"], Refresher.RefreshTokensSeen);
        Refresher.Answer(2, ControlledRefresher.Refreshed("token-10", "refresh-10"));
        Assert.Equal("token-10", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public void A_refresher_that_throws_is_reported_with_what_it_threw()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"),
            configure: s => s with { Refresher = new ThrowingRefresher(), RefreshMaxRetries = 0 });
        tokens.Tell(new TokenRejected(1, 1));

        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Contains("the token refresh failed 1 time(s): HttpRequestException: connection refused", error.Message);
        Assert.IsType<HttpRequestException>(error.InnerException);
    }

    [Fact]
    public void A_stopping_token_actor_cancels_the_request_in_flight()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Watch(tokens);
        Sys.Stop(tokens);
        ExpectTerminated(tokens);
        Assert.NotNull(Refresher.Requests[0].CancelRequestedAt);
    }

    private sealed class ThrowingRefresher : ITokenRefresher
    {
        public Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken) =>
            Task.FromException<TokenRefreshResult>(new HttpRequestException("connection refused"));
    }
}
