using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The TokenActor's settings on their own: the defaults a runtime gets when it sets nothing (every other test overrides
/// them), and the copy made for a shared link.
/// </summary>
public sealed class TokenSettingsTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    [Fact]
    public void Settings_made_without_options_have_the_defaults_TokenOptions_documents()
    {
        var settings = new TokenSettings { Store = new InMemoryTokenStore(null), DelayBeforeRetry = DelayBeforeRetry };
        var documented = new TokenOptions();

        Assert.Equal((TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), 3),
            (settings.RefreshTimeout, settings.RefreshAttemptTimeout, settings.StoreWriteTimeout, settings.RefreshMaxRetries));
        Assert.Equal((true, TimeSpan.FromSeconds(60), 0.2), (settings.ProactiveRefresh, settings.ProactiveMargin, settings.ProactiveFraction));
        Assert.Equal(
            (documented.RefreshTimeout, documented.RefreshAttemptTimeout, documented.StoreWriteTimeout, documented.RefreshMaxRetries,
                documented.ProactiveRefresh, documented.ProactiveRefreshMargin, documented.ProactiveRefreshFraction),
            (settings.RefreshTimeout, settings.RefreshAttemptTimeout, settings.StoreWriteTimeout, settings.RefreshMaxRetries,
                settings.ProactiveRefresh, settings.ProactiveMargin, settings.ProactiveFraction));
    }

    [Fact]
    public void With_the_default_settings_a_token_is_refreshed_60_s_before_it_expires_with_no_call_waiting()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddMinutes(10)),
            configure: s => new TokenSettings { Refresher = Refresher, Store = s.Store, DelayBeforeRetry = DelayBeforeRetry });
        var refreshed = Events<TokenRefreshed>();

        Scheduler.Advance(TimeSpan.FromSeconds(540) - TimeSpan.FromTicks(1));
        StatusOf(tokens);
        Assert.Equal(0, Refresher.Calls);
        Scheduler.Advance(TimeSpan.FromTicks(1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        var done = refreshed.ExpectMsg<TokenRefreshed>();
        Assert.Equal((2L, "proactive", 0), (done.Generation, done.Trigger, done.Waiting));
        tokens.Tell(new GetToken(1));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public void A_shared_link_keeps_the_refresh_timeout_unless_a_wait_for_the_owner_is_given()
    {
        var settings = new TokenSettings
        {
            Refresher = Refresher, Acquirer = Refresher, Store = new InMemoryTokenStore(null), DelayBeforeRetry = DelayBeforeRetry,
            RefreshTimeout = TimeSpan.FromSeconds(7), ProactiveMargin = TimeSpan.FromSeconds(5),
        };
        var link = Props.Empty;
        var store = new InMemoryTokenStore(null);

        var shared = settings.WithSharedLink(link, store);
        Assert.Equal(TimeSpan.FromSeconds(7), shared.RefreshTimeout);
        Assert.Equal((null, null, store, link), (shared.Refresher, shared.Acquirer, shared.Store, shared.SharedLink));
        Assert.Equal(TimeSpan.FromSeconds(5), shared.ProactiveMargin); // the rest is carried over

        Assert.Equal(TimeSpan.FromMinutes(2), settings.WithSharedLink(link, store, TimeSpan.FromMinutes(2)).RefreshTimeout);
    }
}
