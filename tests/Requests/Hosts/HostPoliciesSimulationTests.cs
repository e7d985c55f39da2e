using System.Net;
using Courier.Requests.Hosts;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests.Hosts;

/// <summary>
/// The table driven as the request coordinator is meant to drive it (admit, wait for the time or the slot it names,
/// report each outcome, requeue a throttled call without spending a retry), against a simulated rate-limited server in
/// virtual time: a reference for the wiring, and the targets checked without a clock.
/// </summary>
public sealed class HostPoliciesSimulationTests(ITestOutputHelper output)
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly HostKey Api = HostKey.From(new Uri("https://api.example.com/"));

    /// <summary>
    /// A token bucket server: <paramref name="rate"/>/s, burst rate/10, 429 + Retry-After: 1 s beyond it. With
    /// <paramref name="tick"/>, the bucket is refilled only at whole ticks (as the Sandbox's, by a 10 ms timer).
    /// </summary>
    private sealed class LimitedServer(int rate, TimeSpan? tick = null)
    {
        private readonly double _burst = Math.Max(1, rate / 10);
        private double _tokens = Math.Max(1, rate / 10);
        private DateTimeOffset _last = T0;

        public int Admitted { get; private set; }
        public int Throttled { get; private set; }

        public bool TryAdmit(DateTimeOffset now)
        {
            var refillTo = tick is { } t ? T0 + TimeSpan.FromTicks((now - T0).Ticks / t.Ticks * t.Ticks) : now;
            if (refillTo > _last)
            {
                _tokens = Math.Min(_burst, _tokens + (refillTo - _last).TotalSeconds * rate);
                _last = refillTo;
            }
            if (_tokens >= 1) { _tokens--; Admitted++; return true; }
            Throttled++;
            return false;
        }
    }

    /// <summary>
    /// What a real client adds: the first <c>warmUpCalls</c> requests reach the server spread over <c>warmUp</c>
    /// (connections opening, code compiled), each request's latency varies, and timers fire late.
    /// </summary>
    private sealed record Noise(Random Random, int WarmUpCalls, TimeSpan WarmUp, TimeSpan Jitter, TimeSpan TimerLateness);

    private (TimeSpan Wall, LimitedServer Server, int Pauses) Simulate(HostPolicyOptions options, int calls, int serverRate, TimeSpan latency, Noise? noise = null)
    {
        var table = new HostPolicies(options, maxConcurrentCalls: 256, maxRetryAfter: TimeSpan.FromSeconds(30));
        var server = new LimitedServer(serverRate, noise is null ? null : TimeSpan.FromMilliseconds(10));
        var sent = 0;
        var arrivals = new PriorityQueue<HostTicket, DateTimeOffset>(); // requests on their way to the server (noise only)
        var waiting = calls;
        var done = 0;
        var events = new PriorityQueue<(HostTicket? Ticket, bool Ok), DateTimeOffset>(); // completions, and wake-ups (no ticket)
        var now = T0;
        DateTimeOffset? wakeUp = null; // one timer per host, moved only to an earlier time (as the coordinator's named timer would be)

        void Pump()
        {
            while (waiting > 0)
            {
                var admission = table.TryAdmit(Api, now);
                if (admission.Kind == HostAdmissionKind.Admitted)
                {
                    waiting--;
                    if (noise is null)
                    {
                        events.Enqueue((admission.Ticket, server.TryAdmit(now)), now + latency);
                        continue;
                    }
                    // The server decides when the request arrives; the answer comes back after the rest of the latency.
                    var delay = latency / 2 + noise.Jitter * noise.Random.NextDouble();
                    if (sent++ < noise.WarmUpCalls) delay += noise.WarmUp * noise.Random.NextDouble();
                    arrivals.Enqueue(admission.Ticket, now + delay);
                    events.Enqueue((null, false), now + delay); // a wake-up to deliver it
                    continue;
                }
                if (admission.Kind == HostAdmissionKind.WaitUntil && (wakeUp is null || admission.At < wakeUp))
                {
                    wakeUp = admission.At;
                    var late = noise is null ? TimeSpan.Zero : noise.TimerLateness * noise.Random.NextDouble();
                    events.Enqueue((null, false), admission.At + late);
                    wakeUp = admission.At + late;
                }
                return; // WaitForSlot: the next completion pumps again
            }
        }

        double? lastRate = null;
        var pauses = 0;
        var lastPrinted = T0 - TimeSpan.FromSeconds(1);
        Pump();
        while (done < calls && events.TryDequeue(out var e, out var at))
        {
            now = at;
            if (e.Ticket is null && wakeUp == at) wakeUp = null;
            while (arrivals.TryPeek(out var arriving, out var arrivesAt) && arrivesAt <= now)
            {
                arrivals.Dequeue();
                events.Enqueue((arriving, server.TryAdmit(arrivesAt)), arrivesAt + latency / 2 + noise!.Jitter * noise.Random.NextDouble());
            }
            if (e.Ticket is { } ticket)
            {
                if (e.Ok)
                {
                    table.OnOutcome(ticket, HostOutcome.Success, now);
                    done++;
                }
                else
                {
                    var before = table.Snapshot(Api)?.PausedUntil;
                    table.OnOutcome(ticket, HostOutcomes.FromStatus(HttpStatusCode.TooManyRequests, TimeSpan.FromSeconds(1)), now, TimeSpan.FromSeconds(1));
                    if (before is null || before < now) pauses++;
                    if (before is null || before < now) output.WriteLine($"  {(now - T0).TotalSeconds:0.000} s: paused after {done} done; learned {table.Snapshot(Api)?.LearnedRate:0.#}/s");
                    waiting++; // requeued: a throttled call waits for the host, it does not spend the retry budget
                }
            }
            if (e.Ticket is null && lastRate != table.Snapshot(Api)?.LearnedRate && table.Snapshot(Api)?.PausedUntil <= now)
            {
                lastRate = table.Snapshot(Api)?.LearnedRate;
                if (now - lastPrinted > TimeSpan.FromMilliseconds(500)) { lastPrinted = now; output.WriteLine($"  {(now - T0).TotalSeconds:0.000} s: rate {lastRate:0.#}/s, {done} done"); }
            }
            Pump();
        }
        Assert.Equal(calls, done);
        output.WriteLine($"{calls} calls in {(now - T0).TotalSeconds:0.00} s (ideal {(double)calls / serverRate:0.00} s); server saw {server.Admitted + server.Throttled}, 429: {server.Throttled}");
        return (now - T0, server, pauses);
    }

    [Fact]
    public void With_a_rate_at_the_servers_limit_5000_calls_finish_within_1_3_times_the_ideal_with_at_most_10_percent_429s()
    {
        var (wall, server, _) = Simulate(new HostPolicyOptions { AdaptiveConcurrency = true, RateLimit = "500/s" }, 5000, 500, TimeSpan.FromMilliseconds(5));

        Assert.True(wall <= TimeSpan.FromSeconds(10 * 1.3), $"wall {wall}");
        Assert.True(server.Throttled <= 0.10 * (server.Admitted + server.Throttled), $"{server.Throttled} 429s of {server.Admitted + server.Throttled}");
    }

    [Fact]
    public void With_the_adaptive_rate_and_no_configured_rate_5000_calls_finish_within_1_3_times_the_ideal_with_at_most_10_percent_429s()
    {
        // The scenario: 500/s, 429 + Retry-After: 1 beyond it, 256 calls at a time, nothing told to the client.
        // Without the learned rate the same run takes about 96 s (one 1 s pause after another). Two pauses: the first (no
        // rate known yet), and the one that ends the slow start, whose measurement is then kept: 12.4 s. (Before the
        // burst allowance: 17 s.)
        var (wall, server, pauses) = Simulate(new HostPolicyOptions { AdaptiveConcurrency = true, AdaptiveRate = true }, 5000, 500, TimeSpan.FromMilliseconds(5));

        Assert.True(pauses <= 2, $"{pauses} pauses");
        Assert.True(wall <= TimeSpan.FromSeconds(10 * 1.3), $"wall {wall}");
        Assert.True(server.Throttled <= 0.10 * (server.Admitted + server.Throttled), $"{server.Throttled} 429s of {server.Admitted + server.Throttled}");
    }

    // The scenario as a real client meets it: the first 256 requests reach the server over 400 ms (connections
    // opening, JIT), latencies vary, timers fire up to 20 ms late, the server's bucket is refilled every 10 ms. This law
    // takes 1.21-1.24 x the ideal here with two pauses: the first, then the one that ends the slow start (1.25-1.28 x
    // before the rate climbed back to the measurement after it and held there, AdaptiveRate.HoldTime). Before the
    // burst allowance (AdaptiveRate.BurstAllowance) it took 1.47-1.52 x with five: each short window after a pause read
    // the server's burst as rate (689/s for a 500/s server), and each cut went at most to 0.9 x the last. Tried and
    // dropped earlier: reading the rate from the drain after the first 429 alone gave 1.1 x in this simulation, but
    // against the real Sandbox the coordinator receives the drain in one clump (73 successes within 44 ms: "1,650/s"
    // for a server at 500/s). See the report in bench/RESULTS.md.
    [Theory]
    [InlineData(500, 1)]
    [InlineData(500, 2)]
    [InlineData(500, 3)]
    [InlineData(500, 4)]
    [InlineData(500, 5)]
    [InlineData(200, 6)]
    public void With_the_adaptive_rate_a_noisy_client_finishes_within_1_3_times_the_ideal_after_two_pauses_with_few_429s(int serverRate, int seed)
    {
        var noise = new Noise(new Random(seed), WarmUpCalls: 256, WarmUp: TimeSpan.FromMilliseconds(400), Jitter: TimeSpan.FromMilliseconds(4), TimerLateness: TimeSpan.FromMilliseconds(20));
        var calls = serverRate * 10;
        var (wall, server, pauses) = Simulate(new HostPolicyOptions { AdaptiveConcurrency = true, AdaptiveRate = true }, calls, serverRate, TimeSpan.FromMilliseconds(5), noise);

        Assert.True(pauses <= 2, $"{pauses} pauses");
        Assert.True(wall <= TimeSpan.FromSeconds(10 * 1.3), $"wall {wall}");
        Assert.True(server.Throttled <= 0.10 * (server.Admitted + server.Throttled), $"{server.Throttled} 429s of {server.Admitted + server.Throttled}");
    }

    [Fact]
    public void Pausing_the_host_on_Retry_After_sends_a_fraction_of_the_429s_that_per_call_retries_do()
    {
        // Without a configured rate, the window and the pause govern. Every call still succeeds; the pause keeps the
        // server's 429s to a fraction of what calls retrying on their own cause. (Wall time is the price: each pause
        // costs its Retry-After for every call, see the report on learning the rate.)
        var (_, paused, _) = Simulate(new HostPolicyOptions { AdaptiveConcurrency = true, BackoffRatio = 0.5 }, 5000, 500, TimeSpan.FromMilliseconds(5));
        var (_, unpaused, _) = Simulate(new HostPolicyOptions { AdaptiveConcurrency = true, BackoffRatio = 0.5, PauseOnRetryAfter = false }, 5000, 500, TimeSpan.FromMilliseconds(5));

        Assert.Equal(5000, paused.Admitted);
        Assert.True(paused.Throttled * 4 < unpaused.Throttled, $"{paused.Throttled} 429s paused vs {unpaused.Throttled} unpaused");
        Assert.True(paused.Throttled <= 0.15 * (paused.Admitted + paused.Throttled), $"{paused.Throttled} 429s of {paused.Admitted + paused.Throttled}");
    }
}
