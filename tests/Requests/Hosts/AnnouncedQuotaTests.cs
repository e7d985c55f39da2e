using System.Net;
using Akka.Actor;
using Courier.Requests;
using Courier.Requests.Hosts;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests.Hosts;

/// <summary>
/// A host's announced quota (the rate-limit fields of its answers) in its state: through the request coordinator on the
/// TestScheduler (nothing remaining pauses the host until the reset, then its calls go), and in the table stepped with
/// explicit times (the pause is no throttle; a short-window policy paces the host).
/// </summary>
public sealed class AnnouncedQuotaTests(ITestOutputHelper output) : CoordinatorTestKit(output)
{
    private static readonly Uri A = new("https://a.example.test/");
    private static readonly Uri B = new("https://b.example.test/");
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly HostKey Api = HostKey.From(A);

    private IActorRef Start(Action<HttpRuntimeOptions>? configure = null) => Sys.ActorOf(RequestCoordinator.Props(Runtime(configure)));

    private SeenRequest ExpectRequest(Uri host) =>
        Seen.ExpectMsg<SeenRequest>(r => Assert.Equal(host.Host, r.Uri.Host), TimeSpan.FromSeconds(5));

    private static Action<HttpResponseMessage> Announcing(string name, string value) => r => r.Headers.TryAddWithoutValidation(name, value);

    /// <summary>A first call to A answered 200 with <paramref name="name"/>: <paramref name="value"/>; then a second call to A.</summary>
    private HttpCall AnswerThenCallAgain(IActorRef coordinator, string name, string value)
    {
        Handler.ThenStatus(HttpStatusCode.OK, Announcing(name, value));
        var first = HttpCall.Get(new Uri(A, "/1"));
        coordinator.Tell(new ExecuteCall(first));
        ExpectRequest(A);
        Assert.Equal(first.Id, ExpectMsg<CallSucceeded>().CallId);
        var second = HttpCall.Get(new Uri(A, "/2"));
        coordinator.Tell(new ExecuteCall(second));
        Sync(coordinator);
        return second;
    }

    [Theory]
    [InlineData("RateLimit", "\"default\";r=0;t=2")]
    [InlineData("RateLimit-Remaining", "0")] // with RateLimit-Reset below
    [InlineData("X-RateLimit-Remaining", "0")]
    public void A_success_that_says_nothing_remains_pauses_the_host_until_the_reset_then_its_calls_go(string name, string value)
    {
        var coordinator = Start();
        Handler.ThenStatus(HttpStatusCode.OK, r =>
        {
            r.Headers.TryAddWithoutValidation(name, value);
            if (name.EndsWith("Remaining", StringComparison.Ordinal)) r.Headers.TryAddWithoutValidation(name.Replace("Remaining", "Reset", StringComparison.Ordinal), "2");
        });
        var first = HttpCall.Get(new Uri(A, "/1"));
        coordinator.Tell(new ExecuteCall(first));
        ExpectRequest(A);
        Assert.Equal(first.Id, ExpectMsg<CallSucceeded>().CallId);

        // A is paused: a new call to it waits (no 429 needed); a call to B goes at once.
        var second = HttpCall.Get(new Uri(A, "/2"));
        var other = HttpCall.Get(new Uri(B, "/3"));
        coordinator.Tell(new ExecuteCall(second));
        coordinator.Tell(new ExecuteCall(other));
        ExpectRequest(B);
        Assert.Equal(other.Id, ExpectMsg<CallSucceeded>().CallId);
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Scheduler.Advance(TimeSpan.FromMilliseconds(1999));
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal("/2", ExpectRequest(A).Uri.AbsolutePath);
        var answered = ExpectMsg<CallSucceeded>();
        Assert.Equal(second.Id, answered.CallId);
        Assert.Equal(1, answered.Attempts);
    }

    [Fact]
    public void A_success_with_quota_remaining_does_not_pause_the_host()
    {
        var coordinator = Start();
        var second = AnswerThenCallAgain(coordinator, "RateLimit", "\"default\";r=1;t=30");
        Assert.Equal("/2", ExpectRequest(A).Uri.AbsolutePath);
        Assert.Equal(second.Id, ExpectMsg<CallSucceeded>().CallId);
    }

    [Fact]
    public void With_UseRateLimitHeaders_off_the_fields_are_ignored()
    {
        var coordinator = Start(o => o.Hosts.UseRateLimitHeaders = false);
        var second = AnswerThenCallAgain(coordinator, "RateLimit", "\"default\";r=0;t=30");
        Assert.Equal("/2", ExpectRequest(A).Uri.AbsolutePath);
        Assert.Equal(second.Id, ExpectMsg<CallSucceeded>().CallId);
    }

    [Fact]
    public void A_malformed_field_changes_nothing_and_the_call_succeeds()
    {
        var coordinator = Start();
        var second = AnswerThenCallAgain(coordinator, "RateLimit", "\"default\";r=0;t=30,,");
        Assert.Equal("/2", ExpectRequest(A).Uri.AbsolutePath);
        Assert.Equal(second.Id, ExpectMsg<CallSucceeded>().CallId);
    }

    // ---- the table, stepped with explicit times -----------------------------------------------------------

    private static HostPolicies Table(Action<HostPolicyOptions>? configure = null, double maxRetryAfterSeconds = 30)
    {
        var options = new HostPolicyOptions { AdaptiveConcurrency = true, AdaptiveRate = true, CircuitBreakerFailures = 1 };
        configure?.Invoke(options);
        return new HostPolicies(options, 8, TimeSpan.FromSeconds(maxRetryAfterSeconds));
    }

    private static HostTicket Admit(HostPolicies table, DateTimeOffset now)
    {
        var admission = table.TryAdmit(Api, now);
        Assert.Equal(HostAdmissionKind.Admitted, admission.Kind);
        return admission.Ticket;
    }

    private static RateLimitStatus Exhausted(double resetSeconds) => new(0, TimeSpan.FromSeconds(resetSeconds), null, null);

    [Fact]
    public void A_pause_from_an_exhausted_quota_is_capped_like_Retry_After_and_is_not_a_throttle()
    {
        var table = Table(maxRetryAfterSeconds: 10);
        table.OnOutcome(Admit(table, T0), HostOutcome.Success, T0, quota: Exhausted(3600));

        var snapshot = table.Snapshot(Api)!;
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), snapshot.PausedUntil);
        Assert.Equal(8, snapshot.Limit); // the window is not cut
        Assert.Null(snapshot.LearnedRate); // no rate learned: the server refused nothing
        Assert.Equal(CircuitState.Closed, snapshot.Circuit);
        Assert.Equal(HostAdmissionKind.WaitUntil, table.TryAdmit(Api, T0 + TimeSpan.FromSeconds(9)).Kind);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0 + TimeSpan.FromSeconds(10)).Kind);
    }

    [Fact]
    public void Retry_After_takes_precedence_over_the_reset_of_the_same_answer()
    {
        var table = Table();
        table.OnOutcome(Admit(table, T0), HostOutcome.Throttled, T0, TimeSpan.FromSeconds(1), Exhausted(5));
        Assert.Equal(T0 + TimeSpan.FromSeconds(1), table.Snapshot(Api)!.PausedUntil);
    }

    [Fact]
    public void A_later_answer_with_a_shorter_reset_does_not_shorten_the_pause_and_a_reset_of_zero_is_none()
    {
        var table = Table();
        var a = Admit(table, T0);
        var b = Admit(table, T0);
        var c = Admit(table, T0);
        table.OnOutcome(a, HostOutcome.Success, T0, quota: Exhausted(5));
        table.OnOutcome(b, HostOutcome.Success, T0, quota: Exhausted(1));
        table.OnOutcome(c, HostOutcome.Success, T0, quota: new RateLimitStatus(0, null, null, null));
        Assert.Equal(T0 + TimeSpan.FromSeconds(5), table.Snapshot(Api)!.PausedUntil);

        var fresh = Table();
        fresh.OnOutcome(Admit(fresh, T0), HostOutcome.Success, T0, quota: Exhausted(0));
        Assert.Equal(HostAdmissionKind.Admitted, fresh.TryAdmit(Api, T0).Kind);
    }

    // Regression: a rate learned from a 429 went on growing while the announced pace held the host far below it (half
    // again every 100 ms in slow start): the host's learned-rate metric read a million calls a second, and had the
    // announcements stopped, nothing would have been left of the rate the 429 taught.
    [Fact]
    public void A_learned_rate_does_not_grow_while_the_announced_pace_holds_the_host_below_it()
    {
        var table = Table(o => o.AdaptiveConcurrency = false);
        var first = Enumerable.Range(0, 8).Select(_ => Admit(table, T0)).ToList(); // the table's cap: 8
        var cut = T0 + TimeSpan.FromMilliseconds(40);
        for (var i = 0; i < 7; i++) table.OnOutcome(first[i], HostOutcome.Success, cut);
        table.OnOutcome(first[7], HostOutcome.Throttled, cut, TimeSpan.FromSeconds(1));
        var learned = table.Snapshot(Api)!.LearnedRate!.Value; // 0.9 x 7 / (0.04 s + 0.1 s) = 45/s
        Assert.Equal(0.9 * 7 / 0.14, learned, 6);

        // From the end of the pause, every answer announces 10 calls a second (paced at 9/s, far below the learned rate).
        var admitted = 0;
        for (var now = cut + TimeSpan.FromSeconds(1); now < cut + TimeSpan.FromSeconds(4); now += TimeSpan.FromMilliseconds(1))
        {
            while (table.TryAdmit(Api, now) is { Kind: HostAdmissionKind.Admitted } admission)
            {
                admitted++;
                table.OnOutcome(admission.Ticket, HostOutcome.Success, now, quota: new RateLimitStatus(5, TimeSpan.FromSeconds(1), 10, TimeSpan.FromSeconds(1)));
            }
        }

        Assert.InRange(admitted, 25, 29); // the pace held the host: 9 a second for 3 s
        // The learned rate grew for at most the step in which it still held the first call back, not for 3 s.
        Assert.InRange(table.Snapshot(Api)!.LearnedRate!.Value, learned, learned * 1.5);
    }

    [Fact]
    public void A_short_window_policy_paces_the_host_at_nine_tenths_of_its_quota_and_a_long_one_does_not()
    {
        var table = Table();
        table.OnOutcome(Admit(table, T0), HostOutcome.Success, T0, quota: new RateLimitStatus(50, TimeSpan.FromSeconds(1), 100, TimeSpan.FromSeconds(1)));
        Assert.Equal(90, table.Snapshot(Api)!.AnnouncedRate!.Value, 6);

        // The pace starts empty (the calls before the announcement spent the server's burst): 90 calls a second from here.
        var admitted = 0;
        for (var ms = 0; ms < 1000; ms++)
        {
            var now = T0 + TimeSpan.FromMilliseconds(ms);
            while (table.TryAdmit(Api, now) is { Kind: HostAdmissionKind.Admitted } admission)
            {
                admitted++;
                table.OnOutcome(admission.Ticket, HostOutcome.Success, now);
            }
        }
        Assert.InRange(admitted, 88, 90);

        var hourly = Table();
        hourly.OnOutcome(Admit(hourly, T0), HostOutcome.Success, T0, quota: new RateLimitStatus(4999, TimeSpan.FromMinutes(40), 5000, TimeSpan.FromHours(1)));
        Assert.Null(hourly.Snapshot(Api)!.AnnouncedRate);
        for (var i = 0; i < 8; i++) Admit(hourly, T0); // the window's cap, at once

        var off = Table(o => o.UseRateLimitHeaders = false);
        off.OnOutcome(Admit(off, T0), HostOutcome.Success, T0, quota: new RateLimitStatus(0, TimeSpan.FromSeconds(5), 1, TimeSpan.FromSeconds(1)));
        Assert.Null(off.Snapshot(Api)!.AnnouncedRate);
        Assert.Equal(HostAdmissionKind.Admitted, off.TryAdmit(Api, T0).Kind);
    }
}
