using System.Diagnostics;
using Akka.Actor;
using Courier.Auth;
using Courier.Diagnostics;
using Courier.Tests.Diagnostics;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// What an operator sees of each refresh: one <c>courier.token.refresh.duration</c> measurement tagged with what started
/// it and how it ended (every way it can end), and a span that counts the calls that waited and each retry.
/// </summary>
public sealed class TokenRefreshTelemetryTests : TokenActorTestKit
{
    private const string Duration = "courier.token.refresh.duration";

    private readonly TelemetryCapture _capture = new();

    public TokenRefreshTelemetryTests(ITestOutputHelper output) : base(output) => _capture.InstallOn(Sys);

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) _capture.Dispose();
    }

    /// <summary>The refreshes measured so far: trigger, outcome and duration in seconds.</summary>
    private (string Trigger, string Outcome, double Seconds)[] Measured() =>
        _capture.Measurements.Where(m => m.Instrument == Duration)
            .Select(m => ((string)m.Tag(Tags.RefreshTrigger)!, (string)m.Tag(Tags.Outcome)!, m.Value)).ToArray();

    private IActorRef StartRefused(Func<TokenSettings, TokenSettings>? configure = null)
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"), configure: configure);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Assert.Empty(Measured()); // nothing until it ends
        return tokens;
    }

    [Fact]
    public void A_refresh_that_brings_a_new_token_is_measured_once_as_refreshed_with_its_duration()
    {
        var tokens = StartRefused();
        Scheduler.Advance(TimeSpan.FromSeconds(2));
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        ExpectMsg<TokenGranted>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "refreshed", 2.0)], Measured());
    }

    [Fact]
    public void A_refresh_for_an_expired_token_is_measured_with_that_trigger()
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-1)));
        tokens.Tell(new GetToken(1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        ExpectMsg<TokenGranted>();
        StatusOf(tokens);
        Assert.Equal([("expired", "refreshed", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_that_gives_up_is_measured_as_failed()
    {
        var tokens = StartRefused(s => s with { RefreshMaxRetries = 0 });
        Refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));
        ExpectMsg<TokenUnavailable>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "failed", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_past_its_deadline_is_measured_as_timeout()
    {
        var tokens = StartRefused(s => s with { RefreshTimeout = TimeSpan.FromSeconds(5) });
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        ExpectMsg<TokenUnavailable>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "timeout", 5.0)], Measured());
    }

    [Fact]
    public void A_refused_refresh_token_is_measured_as_rejected()
    {
        var tokens = StartRefused();
        Refresher.Answer(new TokenRefreshResult.Rejected("invalid_grant"));
        ExpectMsg<TokenUnavailable>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "rejected", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_ended_by_a_sign_in_is_measured_as_signed_in()
    {
        var tokens = StartRefused();
        tokens.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        ExpectMsg<TokenGranted>();
        ExpectMsg<SignedIn>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "signed in", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_ended_by_a_sign_out_is_measured_as_signed_out()
    {
        var tokens = StartRefused();
        tokens.Tell(SignOut.Instance);
        ExpectMsg<TokenUnavailable>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "signed out", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_cut_short_by_a_stop_is_measured_as_stopped()
    {
        var tokens = StartRefused();
        Watch(tokens);
        Sys.Stop(tokens);
        ExpectTerminated(tokens);
        Assert.Equal([("rejected", "stopped", 0.0)], Measured());
    }

    [Fact]
    public void A_refresh_answered_by_a_shared_pair_is_measured_as_adopted()
    {
        var link = CreateTestProbe();
        var store = new HeldStore();
        var tokens = StartTokens(null, store, s => new TokenSettings { Store = s.Store, DelayBeforeRetry = s.DelayBeforeRetry, ProactiveRefresh = false }
            .WithSharedLink(Props.Create(() => new ForwardTo(link.Ref)), store), withRefresher: false);
        tokens.Tell(new SharedCredentials(2, new TokenPair("token-2", "refresh-2"), null, false, null, 0));
        tokens.Tell(new TokenRejected(1, 2));
        link.FishForMessage<SharedRefreshRequest>(_ => true);

        tokens.Tell(new SharedCredentials(3, new TokenPair("token-3", "refresh-3"), null, false, "rejected", 1));
        ExpectMsg<TokenGranted>();
        StatusOf(tokens);
        Assert.Equal([("rejected", "adopted", 0.0)], Measured());
    }

    [Fact]
    public void The_refresh_span_counts_the_calls_that_waited_and_records_each_retry()
    {
        var retryDelay = TimeSpan.FromMilliseconds(4321); // tells this test's span from other tests' (the listener is process-wide)
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"), configure: s => s with { DelayBeforeRetry = _ => retryDelay });
        var failures = Events<TokenRefreshFailed>();
        tokens.Tell(new TokenRejected(1, 1));
        tokens.Tell(new GetToken(2));
        tokens.Tell(new TokenRejected(3, 1));
        AwaitCalls(1);
        Refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));
        Assert.Equal(retryDelay, failures.ExpectMsg<TokenRefreshFailed>().RetryIn); // the retry timer is set
        Scheduler.Advance(retryDelay);
        AwaitCalls(2);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.All(Enumerable.Range(0, 3).Select(_ => ExpectMsg<TokenGranted>()), g => Assert.Equal("token-2", g.AccessToken));

        var span = Assert.Single(_capture.Stopped, s => s.OperationName == CourierActivities.RefreshOperation &&
            s.Events.Any(e => e.Name == CourierActivities.Events.RefreshRetry && Equals(Tag(e, Tags.RetryDelay), 4321L)));
        Assert.Equal(("refreshed", 3, 2), ((string?)span.GetTagItem(Tags.Outcome), (int?)span.GetTagItem(Tags.Waiting), (int?)span.GetTagItem(Tags.RefreshAttempts)));
        var retry = Assert.Single(span.Events);
        Assert.Equal(1, Tag(retry, Tags.RefreshAttempts));
        Assert.Equal(ActivityStatusCode.Unset, span.Status);
    }

    private static object? Tag(ActivityEvent e, string name) => e.Tags.FirstOrDefault(t => t.Key == name).Value;

    private sealed class ForwardTo : ReceiveActor
    {
        public ForwardTo(IActorRef to) => ReceiveAny(m => to.Forward(m));
    }
}
