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

    private sealed class ForwardTo : ReceiveActor
    {
        public ForwardTo(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
