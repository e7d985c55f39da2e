using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Courier.Auth;
using Courier.Requests;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The token snapshot (issue 13): the TokenActor publishes the token it would hand out now, and calls read it at send time
/// instead of asking. It must never hand out a token the actor would not (refreshing, signed out, expired, stopped), and a
/// refused snapshot token goes back to the actor with its generation: still exactly one refresh.
/// </summary>
public sealed class TokenSnapshotTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    private static readonly Uri Url = new("https://api.example.test/orders");

    private readonly TokenSnapshotCell _cell = new();

    private IActorRef StartTokens(TokenPair initial) => StartTokens(initial, configure: s => s with { Snapshot = _cell });

    [Fact]
    public void Ready_publishes_the_token_and_its_generation()
    {
        StartTokens(new TokenPair("token-1", "refresh-1"));

        var snapshot = _cell.TryGet(Scheduler.Now);
        Assert.NotNull(snapshot);
        Assert.Equal("token-1", snapshot.AccessToken);
        Assert.Equal(1, snapshot.Generation);
    }

    [Fact]
    public void A_refresh_withdraws_the_snapshot_until_the_new_token_is_stored()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));

        tokens.Tell(new TokenRejected(1, 1), TestActor);
        AwaitCalls(1);
        Assert.Equal("Refreshing", StatusOf(tokens).State);
        Assert.Null(_cell.Current); // a call now asks the actor, and waits in its stash for the one refresh

        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        var snapshot = _cell.TryGet(Scheduler.Now);
        Assert.NotNull(snapshot);
        Assert.Equal(("token-2", 2L), (snapshot.AccessToken, snapshot.Generation));
    }

    [Fact]
    public void SignOut_withdraws_the_snapshot_at_once()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        Assert.NotNull(_cell.Current);

        tokens.Tell(SignOut.Instance);
        Assert.Equal("SignedOut", StatusOf(tokens).State);
        Assert.Null(_cell.Current);

        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")), TestActor);
        ExpectMsg<SignedIn>();
        Assert.Equal("token-9", _cell.TryGet(Scheduler.Now)!.AccessToken);
    }

    [Fact]
    public void An_expired_token_is_not_read_from_the_snapshot()
    {
        StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now + TimeSpan.FromSeconds(10)));
        Assert.NotNull(_cell.TryGet(Scheduler.Now));

        Scheduler.Advance(TimeSpan.FromSeconds(10));

        Assert.Null(_cell.TryGet(Scheduler.Now)); // the actor would refresh first: so the call asks it
    }

    [Fact]
    public void A_stopped_actor_leaves_nothing_to_read()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        Watch(tokens);
        Sys.Stop(tokens);
        ExpectTerminated(tokens);
        Assert.Null(_cell.Current);
    }

    // ---- through the request path: a coordinator, RequestActors and this TokenActor ------------------------------------

    private (IActorRef Coordinator, ScriptedHandler Handler, TestProbe Seen) StartRequests(IActorRef tokens)
    {
        var seen = CreateTestProbe();
        var handler = new ScriptedHandler(seen.Ref, () => Scheduler.Now);
        var options = new HttpRuntimeOptions { Auth = new TokenOptions() };
        var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var runtime = new RequestRuntime(options, () => client, Sys.Log) { Tokens = tokens, TokenSnapshot = _cell };
        return (Sys.ActorOf(RequestCoordinator.Props(runtime)), handler, seen);
    }

    [Fact]
    public void A_call_sent_during_a_refresh_waits_for_it_and_never_carries_the_refused_token()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        var (coordinator, handler, seen) = StartRequests(tokens);
        handler.ThenStatus(HttpStatusCode.Unauthorized);

        var first = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(first));
        Assert.Equal("Bearer token-1", seen.ExpectMsg<SeenRequest>().Headers["Authorization"]); // from the snapshot
        AwaitCalls(1); // refused: the one refresh runs
        Assert.Equal("Refreshing", StatusOf(tokens).State);

        var second = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(second));
        seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the snapshot is withdrawn: the call waits for the refresh

        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        var sent = new[] { seen.ExpectMsg<SeenRequest>(), seen.ExpectMsg<SeenRequest>() };
        Assert.All(sent, r => Assert.Equal("Bearer token-2", r.Headers["Authorization"]));
        var answers = new[] { ExpectMsg<CallSucceeded>(), ExpectMsg<CallSucceeded>() };
        foreach (var answer in answers) answer.Response.Dispose();
        Assert.Equal(1, Refresher.Calls);
        Assert.Equal(3, handler.Count);
    }

    [Fact]
    public void Calls_refused_with_a_snapshot_token_report_its_generation_and_share_exactly_one_refresh()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        var (coordinator, handler, seen) = StartRequests(tokens);
        const int calls = 5;
        // The refusals are held until every call is on the wire: all of them read the snapshot of generation 1.
        var refuse = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        for (var i = 0; i < calls; i++)
        {
            handler.Then(async (_, _) =>
            {
                await refuse.Task;
                return new HttpResponseMessage(HttpStatusCode.Unauthorized);
            });
        }

        for (var i = 0; i < calls; i++) coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));
        for (var i = 0; i < calls; i++) Assert.Equal("Bearer token-1", seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        refuse.SetResult();
        AwaitCalls(1);

        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        for (var i = 0; i < calls; i++) Assert.Equal("Bearer token-2", seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        for (var i = 0; i < calls; i++) ExpectMsg<CallSucceeded>().Response.Dispose();
        Assert.Equal(1, Refresher.Calls);
        Assert.Equal(2, StatusOf(tokens).Generation);
    }

    [Fact]
    public void After_SignOut_a_call_fails_fast_instead_of_reading_the_old_token()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        var (coordinator, handler, _) = StartRequests(tokens);
        tokens.Tell(SignOut.Instance);
        StatusOf(tokens);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Assert.IsType<Errors.AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(0, handler.Count);
    }

    [Fact]
    public void An_anonymous_call_carries_no_token_even_with_a_snapshot()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));
        var (coordinator, _, seen) = StartRequests(tokens);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { Anonymous = true }));

        Assert.False(seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Authorization"));
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }
}
