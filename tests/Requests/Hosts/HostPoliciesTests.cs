using System.Net;
using Courier.Requests.Hosts;
using Xunit;

namespace Courier.Tests.Requests.Hosts;

/// <summary>The per-host table, stepped with explicit times: no clock, no sleeping.</summary>
public sealed class HostPoliciesTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly HostKey Api = HostKey.From(new Uri("https://api.example.com/orders"));
    private static readonly HostKey Other = HostKey.From(new Uri("https://other.example.com/"));

    private static HostPolicies Table(Action<HostPolicyOptions>? configure = null, int maxConcurrentCalls = 8, double maxRetryAfterSeconds = 30)
    {
        var options = new HostPolicyOptions();
        configure?.Invoke(options);
        return new HostPolicies(options, maxConcurrentCalls, TimeSpan.FromSeconds(maxRetryAfterSeconds));
    }

    private static HostTicket Admit(HostPolicies table, HostKey host, DateTimeOffset now)
    {
        var admission = table.TryAdmit(host, now);
        Assert.Equal(HostAdmissionKind.Admitted, admission.Kind);
        return admission.Ticket;
    }

    [Fact]
    public void A_host_is_its_scheme_host_and_port_with_the_default_port_made_explicit()
    {
        Assert.Equal(HostKey.From(new Uri("https://API.example.com:443/a")), HostKey.From(new Uri("https://api.example.com/b?q=1")));
        Assert.NotEqual(HostKey.From(new Uri("http://api.example.com/")), HostKey.From(new Uri("https://api.example.com/")));
        Assert.NotEqual(HostKey.From(new Uri("https://api.example.com:8443/")), HostKey.From(new Uri("https://api.example.com/")));
        Assert.Equal("https://api.example.com:443", Api.ToString());
    }

    [Fact]
    public void A_429_with_Retry_After_pauses_every_call_to_that_host_until_the_time_it_named_and_no_other_host()
    {
        var table = Table();
        var ticket = Admit(table, Api, T0);
        Admit(table, Api, T0); // a second call already in flight is not recalled

        table.OnOutcome(ticket, HostOutcomes.FromStatus(HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(2)), T0, TimeSpan.FromSeconds(2));

        var refused = table.TryAdmit(Api, T0 + TimeSpan.FromSeconds(1));
        Assert.Equal(HostAdmissionKind.WaitUntil, refused.Kind);
        Assert.Equal(T0 + TimeSpan.FromSeconds(2), refused.At);
        Assert.Equal(T0 + TimeSpan.FromSeconds(2), table.NextAdmissionTime(Api, T0 + TimeSpan.FromSeconds(1)));
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Other, T0 + TimeSpan.FromSeconds(1)).Kind);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0 + TimeSpan.FromSeconds(2)).Kind);
    }

    [Fact]
    public void A_503_with_Retry_After_pauses_the_host_but_a_503_without_it_does_not()
    {
        Assert.Equal(HostOutcome.Throttled, HostOutcomes.FromStatus(HttpStatusCode.ServiceUnavailable, TimeSpan.FromSeconds(1)));
        Assert.Equal(HostOutcome.Failed, HostOutcomes.FromStatus(HttpStatusCode.ServiceUnavailable, null));
        Assert.Equal(HostOutcome.Success, HostOutcomes.FromStatus(HttpStatusCode.NotFound, null));

        var table = Table();
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0).Kind);
    }

    [Fact]
    public void The_pause_is_capped_at_MaxRetryAfter_and_a_shorter_later_answer_does_not_shorten_it()
    {
        var table = Table(maxRetryAfterSeconds: 10);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Throttled, T0, TimeSpan.FromHours(1));
        Assert.Equal(T0 + TimeSpan.FromSeconds(10), table.Snapshot(Api)!.PausedUntil);

        var second = Table();
        var a = Admit(second, Api, T0);
        var b = Admit(second, Api, T0);
        second.OnOutcome(a, HostOutcome.Throttled, T0, TimeSpan.FromSeconds(5));
        second.OnOutcome(b, HostOutcome.Throttled, T0, TimeSpan.FromSeconds(1));
        Assert.Equal(T0 + TimeSpan.FromSeconds(5), second.Snapshot(Api)!.PausedUntil);
    }

    [Fact]
    public void Without_PauseOnRetryAfter_a_429_does_not_pause_the_host()
    {
        var table = Table(o => o.PauseOnRetryAfter = false);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Throttled, T0, TimeSpan.FromSeconds(5));
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0).Kind);
    }

    [Fact]
    public void The_window_starts_at_the_cap_and_a_full_host_makes_calls_wait_for_a_slot()
    {
        var table = Table(o => o.MaxConcurrencyPerHost = 2, maxConcurrentCalls: 100);
        var first = Admit(table, Api, T0);
        Admit(table, Api, T0);
        Assert.Equal(HostAdmissionKind.WaitForSlot, table.TryAdmit(Api, T0).Kind);
        Assert.Null(table.NextAdmissionTime(Api, T0));
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Other, T0).Kind);

        table.OnOutcome(first, HostOutcome.Success, T0);
        Assert.Equal(T0, table.NextAdmissionTime(Api, T0));
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0).Kind);
    }

    [Fact]
    public void AIMD_cuts_the_window_once_per_window_on_drops_and_grows_it_by_one_per_success_within_1_and_the_cap()
    {
        var table = Table(o => { o.AdaptiveConcurrency = true; o.BackoffRatio = 0.5; }, maxConcurrentCalls: 16);
        Assert.Equal(16, Admit(table, Api, T0) is var t0 ? table.Snapshot(Api)!.Limit : 0);
        var window = Enumerable.Range(0, 7).Select(_ => Admit(table, Api, T0)).Prepend(t0).ToList(); // 8 in flight

        // The whole window answers 429: one cut (16 → 8), not eight.
        foreach (var ticket in window) table.OnOutcome(ticket, HostOutcome.Throttled, T0);
        Assert.Equal(8, table.Snapshot(Api)!.Limit);

        // A drop of an attempt admitted after the cut is news: 8 → 4, then 4 → 2 → 1, and never below 1.
        for (var expected = 4; expected >= 1; expected /= 2)
        {
            table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
            Assert.Equal(expected, table.Snapshot(Api)!.Limit);
        }
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(1, table.Snapshot(Api)!.Limit);

        // Additive increase: each success with the window in use adds one.
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Success, T0);
        Assert.Equal(2, table.Snapshot(Api)!.Limit);
        var x = Admit(table, Api, T0);
        var y = Admit(table, Api, T0);
        table.OnOutcome(x, HostOutcome.Success, T0);
        Assert.Equal(3, table.Snapshot(Api)!.Limit);
        table.OnOutcome(y, HostOutcome.Success, T0); // 1 in flight of 3: window not in use, no growth
        Assert.Equal(3, table.Snapshot(Api)!.Limit);
    }

    [Fact]
    public void AIMD_never_grows_past_the_cap()
    {
        var limit = new AimdLimit(cap: 3, backoffRatio: 0.9);
        for (var i = 0; i < 10; i++) limit.OnSuccess(inFlight: 3);
        Assert.Equal(3, limit.Limit);
        Assert.True(limit.OnDrop(admittedSequence: 0, nextSequence: 1));
        Assert.Equal(2, limit.Limit); // floor(3 · 0.9)
    }

    [Fact]
    public void The_breaker_opens_after_N_consecutive_failures_fails_fast_then_lets_one_probe_through()
    {
        var breakFor = TimeSpan.FromSeconds(5);
        var table = Table(o => { o.CircuitBreakerFailures = 3; o.CircuitBreakDuration = breakFor; });

        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Success, T0); // resets the count
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(CircuitState.Closed, table.Snapshot(Api)!.Circuit);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(CircuitState.Open, table.Snapshot(Api)!.Circuit);

        var refused = table.TryAdmit(Api, T0 + TimeSpan.FromSeconds(4));
        Assert.Equal(HostAdmissionKind.CircuitOpen, refused.Kind);
        Assert.Equal(T0 + breakFor, refused.At);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Other, T0).Kind);

        // Half-open: one probe; the others still fail fast while it runs. Its failure opens the circuit again.
        var probe = table.TryAdmit(Api, T0 + breakFor);
        Assert.True(probe.Ticket.IsProbe);
        Assert.Equal(HostAdmissionKind.CircuitOpen, table.TryAdmit(Api, T0 + breakFor).Kind);
        table.OnOutcome(probe.Ticket, HostOutcome.Failed, T0 + breakFor);
        Assert.Equal(CircuitState.Open, table.Snapshot(Api)!.Circuit);
        Assert.Equal(T0 + breakFor * 2, table.NextAdmissionTime(Api, T0 + breakFor));

        // A second probe succeeds: the circuit closes and calls go again.
        var second = table.TryAdmit(Api, T0 + breakFor * 2);
        Assert.True(second.Ticket.IsProbe);
        table.OnOutcome(second.Ticket, HostOutcome.Success, T0 + breakFor * 2);
        Assert.Equal(CircuitState.Closed, table.Snapshot(Api)!.Circuit);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Api, T0 + breakFor * 2).Kind);
    }

    [Fact]
    public void Throttling_is_not_an_outage_for_the_breaker_and_an_abandoned_probe_lets_the_next_call_probe()
    {
        var table = Table(o => o.CircuitBreakerFailures = 2);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Throttled, T0);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(CircuitState.Closed, table.Snapshot(Api)!.Circuit);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Failed, T0);
        Assert.Equal(CircuitState.Open, table.Snapshot(Api)!.Circuit);

        var later = T0 + TimeSpan.FromSeconds(5);
        var probe = table.TryAdmit(Api, later);
        table.OnOutcome(probe.Ticket, HostOutcome.Ignored, later); // cancelled: says nothing about the host
        Assert.True(table.TryAdmit(Api, later).Ticket.IsProbe);
    }

    [Fact]
    public void The_rate_limit_spaces_calls_by_its_interval_from_the_time_passed_in_with_the_configured_burst()
    {
        var table = Table(o => { o.RateLimit = "10/s"; o.RateLimitBurst = 2; });
        Admit(table, Api, T0);
        Admit(table, Api, T0);
        var wait = table.TryAdmit(Api, T0);
        Assert.Equal(HostAdmissionKind.WaitUntil, wait.Kind);
        Assert.Equal(T0 + TimeSpan.FromMilliseconds(100), wait.At);
        Assert.Equal(HostAdmissionKind.WaitUntil, table.TryAdmit(Api, T0 + TimeSpan.FromMilliseconds(99)).Kind);
        Admit(table, Api, T0 + TimeSpan.FromMilliseconds(100));
        Assert.Equal(HostAdmissionKind.WaitUntil, table.TryAdmit(Api, T0 + TimeSpan.FromMilliseconds(150)).Kind);

        // A long quiet spell refills the bucket to the burst, not beyond.
        var later = T0 + TimeSpan.FromMinutes(1);
        Admit(table, Api, later);
        Admit(table, Api, later);
        Assert.Equal(HostAdmissionKind.WaitUntil, table.TryAdmit(Api, later).Kind);
        Assert.Equal(HostAdmissionKind.Admitted, table.TryAdmit(Other, later).Kind); // its own bucket
    }

    [Fact]
    public void The_adaptive_rate_is_unlimited_until_a_throttle_then_0_9_times_what_the_server_let_through_with_no_growth_during_the_pause()
    {
        var rate = new AdaptiveRate();
        Assert.True(rate.TryAcquire(T0));
        Assert.Null(rate.Rate);

        // 100 successes over the last second (the measurement's buckets are 100 ms), then a 429 with a 1 s pause.
        for (var i = 0; i < 100; i++) rate.OnSuccess(T0 + TimeSpan.FromMilliseconds(100 + i * 9));
        var at = T0 + TimeSpan.FromSeconds(1);
        Assert.True(rate.OnThrottled(at, admittedSequence: 5, nextSequence: 10, resumesAt: at + TimeSpan.FromSeconds(1)));
        Assert.Equal(90, rate.Rate!.Value, precision: 0);
        Assert.False(rate.OnThrottled(at, admittedSequence: 9, nextSequence: 10, resumesAt: at)); // same window: no second cut

        // Nothing accrues while paused: at the end of the pause the first permit is one interval (1/90 s) away.
        var resumes = at + TimeSpan.FromSeconds(1);
        Assert.False(rate.TryAcquire(resumes));
        Assert.Equal(90, rate.Rate!.Value, precision: 0);
        var next = rate.NextPermitTime(resumes);
        Assert.InRange(next - resumes, TimeSpan.FromMilliseconds(11), TimeSpan.FromMilliseconds(12));
        Assert.True(rate.TryAcquire(next));
    }

    // Regression: a later 429 of the same window (an attempt still in flight at the first) moves the end of the pause,
    // but the learned rate kept counting from the first end: the host resumed with a burst of permits (and, in slow
    // start, a rate already grown for the time it was still paused) straight into a server that had just refused.
    [Fact]
    public void A_throttle_that_extends_the_pause_also_delays_the_learned_rates_permits_and_growth()
    {
        var rate = new AdaptiveRate();
        Assert.True(rate.TryAcquire(T0));
        for (var i = 0; i < 10; i++) rate.OnSuccess(T0 + TimeSpan.FromMilliseconds(100 + i * 10)); // few successes: slow start
        var at = T0 + TimeSpan.FromSeconds(1);
        Assert.True(rate.OnThrottled(at, admittedSequence: 5, nextSequence: 10, resumesAt: at + TimeSpan.FromSeconds(1)));
        var learned = rate.Rate!.Value;

        // 300 ms later a straggler's 429 names another second: the pause now ends at 2.3 s.
        var resumes = at + TimeSpan.FromSeconds(1.3);
        Assert.False(rate.OnThrottled(at + TimeSpan.FromSeconds(0.3), admittedSequence: 9, nextSequence: 10, resumesAt: resumes));

        Assert.False(rate.TryAcquire(resumes)); // no permits banked during the extension
        Assert.Equal(learned, rate.Rate!.Value, precision: 3); // and no growth
    }

    private static DateTimeOffset Ms(double milliseconds) => T0 + TimeSpan.FromMilliseconds(milliseconds);

    /// <summary>A learned rate after a first throttle at 60 ms (50 successes: 0.9 × 50 / (0.06 s + 0.1 s) = 281/s), paused until 1.1 s.</summary>
    private static AdaptiveRate AfterAFirstThrottle()
    {
        var rate = new AdaptiveRate();
        Assert.True(rate.TryAcquire(T0));
        for (var i = 0; i < 50; i++) rate.OnSuccess(Ms(i));
        Assert.True(rate.OnThrottled(Ms(60), admittedSequence: 10, nextSequence: 256, resumesAt: Ms(1100)));
        Assert.Equal(0.9 * 50 / 0.16, rate.Rate!.Value, precision: 3);
        return rate;
    }

    // Regression (rule changed): a window ending in a throttle holds the server's burst as well as its rate: a token bucket
    // of 500/s with a burst of 50 lets 50 through at once after a pause, then 5 every 10 ms. The successes over the
    // window (190 in 0.3 s) read 633/s, and 0.9 x that was learned: above the server's rate, so the next throttle came
    // within a second, and the next (each cut at most to 0.9 x the last: 5 pauses in the simulation). Now the window
    // counts 100 ms longer (the burst allowance) and the best of the windows of the last second is taken.
    [Fact]
    public void A_short_window_after_a_pause_is_read_as_the_servers_burst_plus_its_rate_not_as_a_higher_rate()
    {
        var rate = AfterAFirstThrottle();
        for (var i = 0; i < 50; i++) rate.OnSuccess(Ms(1100 + i * 0.2)); // the burst, within 10 ms
        for (var t = 1120; t < 1400; t += 10)
        {
            for (var i = 0; i < 5; i++) rate.OnSuccess(Ms(t)); // then 500/s
        }
        Assert.True(rate.OnThrottled(Ms(1400), admittedSequence: 300, nextSequence: 400, resumesAt: Ms(2400)));

        // 190 / (0.3 s + 0.1 s) = 475/s, x 0.9: under the server's 500/s (the old reading: 0.9 x 190 / 0.3 s = 570/s).
        Assert.Equal(0.9 * 190 / 0.4, rate.Rate!.Value, precision: 3);
    }

    [Fact]
    public void The_measurement_is_the_best_window_of_the_last_second_so_a_slow_start_is_read_where_it_reached_the_limit()
    {
        var rate = AfterAFirstThrottle();
        for (var t = 1100; t < 1600; t += 10) rate.OnSuccess(Ms(t)); // 100/s while the rate grows from 281/s ...
        for (var t = 1600; t < 1900; t += 10)
        {
            for (var i = 0; i < 5; i++) rate.OnSuccess(Ms(t)); // ... and 500/s once the server is saturated
        }
        Assert.True(rate.OnThrottled(Ms(1900), admittedSequence: 300, nextSequence: 400, resumesAt: Ms(2900)));

        // The last 300 ms: 150 / 0.4 s = 375/s (the whole 800 ms since the pause, 200 / 0.9 s = 222/s, is not taken).
        Assert.Equal(0.9 * 150 / 0.4, rate.Rate!.Value, precision: 3);
    }

    [Fact]
    public void After_the_first_throttle_the_rate_grows_fast_even_on_many_successes_and_after_a_later_one_slowly()
    {
        // Rule changed: a first throttle after 32 successes or more used to grow slowly at once. The first window is the
        // server's burst and the client's warm-up (on loopback 4 to 98 successes came back before the first 429, in any
        // order): it says little about the rate, and growing 1 % a second from 36 to 352/s (measured) was slower than a
        // second throttle.
        var rate = new AdaptiveRate();
        Assert.True(rate.TryAcquire(T0));
        for (var i = 0; i < 100; i++) rate.OnSuccess(Ms(i));
        Assert.True(rate.OnThrottled(Ms(100), admittedSequence: 10, nextSequence: 256, resumesAt: Ms(1100)));
        var first = rate.Rate!.Value;
        rate.TryAcquire(Ms(1200));
        Assert.Equal(first * 1.5, rate.Rate!.Value, precision: 3);

        for (var i = 0; i < 150; i++) rate.OnSuccess(Ms(1100 + i * 1.3));
        Assert.True(rate.OnThrottled(Ms(1300), admittedSequence: 300, nextSequence: 400, resumesAt: Ms(2300)));
        var second = rate.Rate!.Value;
        Assert.True(second >= first * 0.75, $"{second} after {first}"); // not far below the last: steady
        rate.TryAcquire(Ms(3300));
        Assert.InRange(rate.Rate!.Value, second * 1.05, second / 0.9); // back towards the measurement, not past it
    }

    // Rule changed: after a steady cut the rate grew 1 % a second for ever, from 0.9 x the measurement: below the limit
    // for the ten seconds it took to get back (0.9 x on average; the batch took 1.26-1.30 x the ideal with two
    // pauses), then past it into the next throttle and its pause. It now climbs back to the measurement within a couple
    // of seconds and holds there; the noisy simulation went from 12.6 to 12.1-12.4 s for 10 s of ideal.
    [Fact]
    public void After_a_steady_cut_the_rate_climbs_back_to_what_the_server_let_through_holds_there_then_probes_slowly()
    {
        var (rate, measured) = InAHold();
        Assert.Equal(0.9 * measured, rate.Rate!.Value, precision: 3);

        rate.TryAcquire(Ms(4100)); // a second after the pause: a tenth of the gap every 100 ms
        Assert.Equal(measured - 0.1 * measured * Math.Pow(0.9, 10), rate.Rate!.Value, precision: 3);
        rate.TryAcquire(Ms(8100));
        Assert.InRange(rate.Rate!.Value, 0.999 * measured, measured); // there, and never past it
        rate.TryAcquire(Ms(2100) + AdaptiveRate.HoldTime - TimeSpan.FromMilliseconds(1));
        Assert.Equal(measured, rate.Rate!.Value, precision: 3); // for HoldTime after the cut

        // Then 1 % a second from the end of the hold, not from the last growth (no jump for the time held).
        rate.TryAcquire(Ms(2100) + AdaptiveRate.HoldTime + TimeSpan.FromSeconds(1));
        Assert.Equal(measured * 1.01, rate.Rate!.Value, precision: 3);
    }

    /// <summary>A steady cut at 2.1 s after a second at 500/s (a pause until 3.1 s): the rate and what was measured.</summary>
    private static (AdaptiveRate Rate, double Measured) InAHold()
    {
        var rate = AfterAFirstThrottle(); // slow start from 281/s after 1.1 s
        for (var t = 1100; t < 2100; t += 2) rate.OnSuccess(Ms(t)); // the server let 500/s through for a second
        Assert.True(rate.OnThrottled(Ms(2100), admittedSequence: 900, nextSequence: 1000, resumesAt: Ms(3100)));
        var measured = rate.Rate!.Value / 0.9;
        Assert.InRange(measured, 440, 460); // 450 in the last 900 ms, over 0.9 s + the burst allowance
        return (rate, measured);
    }

    // Rule changed: a throttle while holding at the measurement (seen against the in-process Sandbox when the test host
    // stalled: 62 requests in one tenth of a second after 24 and 38, at 400/s against 500/s) was measured like any
    // other: the window of the stall read 334/s, and the batch went on at 301/s, then about 370/s, for its last 8 s.
    [Fact]
    public void The_first_throttle_in_a_hold_is_congestion_the_rate_climbs_back_to_the_hold_and_a_second_is_measured()
    {
        var (rate, measured) = InAHold();
        for (var t = 3100; t < 9100; t += 3) { rate.TryAcquire(Ms(t)); rate.OnSuccess(Ms(t)); } // at the hold
        Assert.InRange(rate.Rate!.Value, 0.999 * measured, measured);

        // A stall: a few successes, then a throttle. Honoured (a cut), but the hold stays.
        for (var t = 9100; t < 9400; t += 30) rate.OnSuccess(Ms(t));
        Assert.True(rate.OnThrottled(Ms(9400), admittedSequence: 5000, nextSequence: 5100, resumesAt: Ms(10400)));
        Assert.InRange(rate.Rate!.Value, 0.9 * 0.999 * measured, 0.9 * measured);
        rate.TryAcquire(Ms(13400));
        Assert.InRange(rate.Rate!.Value, 0.99 * measured, measured); // back at the hold within 3 s

        // A second throttle within the hold: the server did slow down to 400/s, and is measured (360 in the last 900 ms,
        // over 0.9 s + the burst allowance). (Far below the last estimate, a slow start would follow instead.)
        for (var t = 13400.0; t < 14400; t += 2.5) rate.OnSuccess(Ms(t));
        Assert.True(rate.OnThrottled(Ms(14400), admittedSequence: 9000, nextSequence: 9100, resumesAt: Ms(15400)));
        Assert.Equal(0.9 * 360, rate.Rate!.Value, precision: 3);
        rate.TryAcquire(Ms(25400));
        Assert.InRange(rate.Rate!.Value, 0.999 * 360, 360); // the new hold: what the server let through now
    }

    [Fact]
    public void A_learned_rate_bounds_the_calls_in_flight_to_the_rate_times_twice_the_smoothed_latency_plus_100_ms()
    {
        var unlimited = new AdaptiveRate();
        unlimited.OnSuccess(Ms(5), TimeSpan.FromMilliseconds(5));
        Assert.Null(unlimited.InFlightBound); // no rate learned: the window alone bounds the calls in flight

        var rate = AfterAFirstThrottle(); // 281.25/s, no latency known yet
        Assert.Null(rate.InFlightBound);
        rate.OnSuccess(Ms(1110), TimeSpan.FromMilliseconds(10));
        Assert.Equal((int)Math.Ceiling(rate.Rate!.Value * (2 * 0.010 + 0.1)), rate.InFlightBound);

        // One slow answer (the end of a stall) moves the smoothed latency by an eighth of the difference, as TCP's SRTT.
        rate.OnSuccess(Ms(1120), TimeSpan.FromMilliseconds(210));
        Assert.Equal((int)Math.Ceiling(rate.Rate!.Value * (2 * 0.035 + 0.1)), rate.InFlightBound);
    }

    // Regression: with a learned rate, a host whose answers stopped (a server stalled for a moment) kept getting calls at
    // the rate; when it woke, the calls queued in its socket met its token bucket at once (measured against the Sandbox:
    // a 150 ms stall, a clump of 87, 20 429s and a third 1 s pause). Now the calls in flight stop at the bound.
    [Fact]
    public void A_host_that_stops_answering_while_a_rate_is_learned_gets_no_more_calls_than_the_in_flight_bound()
    {
        var table = Table(o => o.AdaptiveRate = true, maxConcurrentCalls: 256);
        var first = Enumerable.Range(0, 60).Select(_ => Admit(table, Api, T0)).ToList();
        for (var i = 0; i < 59; i++) table.OnOutcome(first[i], HostOutcome.Success, Ms(10)); // 10 ms each
        table.OnOutcome(first[59], HostOutcome.Throttled, Ms(10), TimeSpan.FromSeconds(1));
        var resumes = table.Snapshot(Api)!.PausedUntil;
        Assert.Equal(Ms(1010), resumes);

        // No answer comes back from here on: every permit the rate gives for 300 ms is taken while the table admits.
        var inFlight = 0;
        var now = resumes;
        for (; now <= resumes + TimeSpan.FromMilliseconds(300); now += TimeSpan.FromMilliseconds(1))
        {
            while (table.TryAdmit(Api, now).Kind == HostAdmissionKind.Admitted) inFlight++;
        }
        var learned = table.Snapshot(Api)!.LearnedRate!.Value;
        var bound = (int)Math.Ceiling(learned * (2 * 0.010 + 0.1));
        Assert.Equal(bound, inFlight);
        Assert.Equal(HostAdmissionKind.WaitForSlot, table.TryAdmit(Api, now).Kind);
        Assert.Null(table.NextAdmissionTime(Api, now)); // it waits for an answer, not for a time
        Assert.True(inFlight < learned * 0.3, $"{inFlight} calls in flight after 300 ms at {learned:0}/s");
    }

    // Regression: a window holding a stall of the client's own process (the test host starved: 700 ms without a single
    // request reaching the Sandbox, then a clump and a throttle) was measured as sending time: 43/s learned for a 500/s
    // server, then a slow start back from there.
    [Fact]
    public void Whole_steps_without_a_success_among_busy_ones_are_a_stall_and_not_sending_time()
    {
        var rate = AfterAFirstThrottle(); // slow start from 281/s after 1.1 s
        for (var t = 1100; t < 1600; t += 2) rate.OnSuccess(Ms(t)); // 250 at 500/s
        for (var i = 0; i < 25; i++) rate.OnSuccess(Ms(2000 + i * 2)); // nothing from 1.6 to 2.0 s, then a clump
        Assert.True(rate.OnThrottled(Ms(2050), admittedSequence: 900, nextSequence: 1000, resumesAt: Ms(3050)));

        // 275 successes over 0.95 s less the four silent steps, plus the burst allowance (was: 275 / 1.05 s).
        Assert.Equal(0.9 * 275 / (0.95 - 0.4 + 0.1), rate.Rate!.Value, precision: 3);
    }

    [Fact]
    public void At_a_low_rate_silent_steps_are_the_gaps_between_calls_and_count_as_sending_time()
    {
        var rate = AfterAFirstThrottle();
        for (var t = 1100; t < 2100; t += 250) rate.OnSuccess(Ms(t)); // 4/s: most steps see none
        Assert.True(rate.OnThrottled(Ms(2100), admittedSequence: 900, nextSequence: 1000, resumesAt: Ms(3100)));

        Assert.InRange(rate.Rate!.Value, 1, 0.9 * 4 / 0.9 + 0.001); // at most 0.9 x 4 successes over a window of 0.8 s + 0.1 s
    }

    [Fact]
    public void Answers_arriving_during_the_pause_count_for_the_window_the_throttle_ended_but_never_past_its_ceiling()
    {
        var rate = AfterAFirstThrottle(); // 281/s, unlimited before: no ceiling
        for (var i = 0; i < 30; i++) rate.OnSuccess(Ms(100)); // the drain of the first window
        // Measured from the window's start to the last answer: 80 / (0.1 s + 0.1 s) = 400/s, x 0.9.
        Assert.Equal(0.9 * 80 / 0.2, rate.Rate!.Value, precision: 3);

        // A later window: 1.1 s to 1.3 s, the learned rate grown once (to 540/s at the last success), then a throttle that
        // reads 0.9 x 45 / 0.3 s.
        for (var i = 0; i < 45; i++) rate.OnSuccess(Ms(1100 + i * 4));
        Assert.True(rate.OnThrottled(Ms(1300), admittedSequence: 300, nextSequence: 400, resumesAt: Ms(2300)));
        var ceiling = 0.9 * 360 * 1.5;
        Assert.Equal(0.9 * 45 / 0.3, rate.Rate!.Value, precision: 3);
        for (var i = 0; i < 1000; i++) rate.OnSuccess(Ms(1350)); // a drain no server could have let through
        Assert.Equal(ceiling, rate.Rate!.Value, precision: 3); // capped at 0.9 x the rate the server refused
    }

    [Fact]
    public void Idle_hosts_are_forgotten_past_MaxTrackedHosts_but_a_paused_one_is_kept()
    {
        var table = Table(o => o.MaxTrackedHosts = 2);
        table.OnOutcome(Admit(table, Api, T0), HostOutcome.Throttled, T0, TimeSpan.FromSeconds(5));
        table.OnOutcome(Admit(table, Other, T0), HostOutcome.Success, T0);
        Admit(table, HostKey.From(new Uri("https://third.example.com/")), T0);
        Assert.Equal(2, table.Count);
        Assert.NotNull(table.Snapshot(Api));
        Assert.Null(table.Snapshot(Other));
    }

    // Regression: with a configured rate and a learned one, a call the learned rate held back had already taken the
    // configured rate's token, so the next call waited for the configured rate's next permit (here a whole second).
    [Fact]
    public void A_call_held_back_by_the_learned_rate_does_not_spend_a_configured_rate_permit()
    {
        var table = Table(o =>
        {
            o.RateLimit = "1/s";
            o.RateLimitBurst = 10;
            o.AdaptiveRate = true;
        }, maxConcurrentCalls: 16);
        var tickets = Enumerable.Range(0, 10).Select(_ => Admit(table, Api, T0)).ToList();
        foreach (var ticket in tickets.Take(9)) table.OnOutcome(ticket, HostOutcome.Success, T0);
        table.OnOutcome(tickets[9], HostOutcome.Throttled, T0, TimeSpan.FromSeconds(1)); // learns about 81/s, paused 1 s

        // At the end of the pause the configured bucket has one token and the learned one none yet.
        var now = T0 + TimeSpan.FromSeconds(1);
        HostAdmission admission;
        for (var i = 0; (admission = table.TryAdmit(Api, now)).Kind == HostAdmissionKind.WaitUntil && i < 5; i++) now = admission.At;

        Assert.True(admission.Kind == HostAdmissionKind.Admitted, $"{admission.Kind} at {(now - T0).TotalSeconds:0.000} s, next {(admission.At - T0).TotalSeconds:0.000} s");
        Assert.True(now < T0 + TimeSpan.FromSeconds(1.1), $"admitted at {(now - T0).TotalSeconds:0.000} s: the configured rate's permit was lost");
    }
}

/// <summary>Rates as the CLI and configuration write them, and the options' checks.</summary>
public sealed class RateLimitAndOptionsTests
{
    [Theory]
    [InlineData("200/s", 200, 1_000)]
    [InlineData("30/min", 30, 60_000)]
    [InlineData("5/100ms", 5, 100)]
    [InlineData(" 1000 / h ", 1000, 3_600_000)]
    [InlineData("7/2s", 7, 2_000)]
    public void Rates_parse(string text, int permits, int perMs)
    {
        var rate = RateLimit.Parse(text);
        Assert.Equal(permits, rate.Permits);
        Assert.Equal(TimeSpan.FromMilliseconds(perMs), rate.Per);
    }

    [Theory]
    [InlineData("")]
    [InlineData("200")]
    [InlineData("0/s")]
    [InlineData("-1/s")]
    [InlineData("200/fortnight")]
    [InlineData("a/s")]
    [InlineData("5/0s")]
    public void A_bad_rate_is_a_FormatException_that_quotes_it(string text)
    {
        var error = Assert.Throws<FormatException>(() => RateLimit.Parse(text));
        Assert.Contains($"'{text}'", error.Message);
    }

    [Fact]
    public void Validate_names_the_configuration_key()
    {
        Assert.Contains("Hosts:RateLimit", Assert.ThrowsAny<ArgumentException>(() => new HostPolicyOptions { RateLimit = "fast" }.Validate()).Message);
        Assert.Contains("Hosts:BackoffRatio", Assert.ThrowsAny<ArgumentException>(() => new HostPolicyOptions { BackoffRatio = 1 }.Validate()).Message);
        Assert.Contains("Hosts:MaxConcurrencyPerHost", Assert.ThrowsAny<ArgumentException>(() => new HostPolicyOptions { MaxConcurrencyPerHost = 0 }.Validate()).Message);
        Assert.Contains("Hosts:CircuitBreakDuration", Assert.ThrowsAny<ArgumentException>(() => new HostPolicyOptions { CircuitBreakDuration = TimeSpan.Zero }.Validate()).Message);
        new HostPolicyOptions().Validate();
    }

}
