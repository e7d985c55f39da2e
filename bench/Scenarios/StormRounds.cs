using System.Globalization;
using Akka.Actor;
using Courier.Auth;
using Courier.Requests;

namespace Courier.Bench.Scenarios;

/// <summary>
/// A runtime under test in the storm scenarios: one or more nodes that share one credential. Calls go to the nodes in
/// turn, so with three nodes each gets a third of every batch.
/// </summary>
internal sealed class StormTarget : HttpTarget
{
    private readonly string _name;
    private readonly IReadOnlyList<IHttpRuntimeClient> _nodes;
    private readonly Func<ValueTask> _dispose;
    private readonly System.Collections.Concurrent.ConcurrentQueue<long> _refreshed = new();
    private int _next = -1;

    /// <param name="systems">The nodes' actor systems: their <see cref="TokenRefreshed"/> events are timed.</param>
    public StormTarget(string name, IReadOnlyList<IHttpRuntimeClient> nodes, IEnumerable<ActorSystem> systems, Func<ValueTask> dispose)
    {
        (_name, _nodes, _dispose) = (name, nodes, dispose);
        foreach (var system in systems)
            system.EventStream.Subscribe(system.ActorOf(Props.Create(() => new RefreshWatcher(_refreshed)), "bench-refresh-watcher"), typeof(TokenRefreshed));
    }

    public override string Name => _name;

    /// <summary>Forgets the refreshes seen so far (call before a batch).</summary>
    public void ClearRefreshes() => _refreshed.Clear();

    public int NodeCount => _nodes.Count;

    /// <summary>When the first and the last node published <see cref="TokenRefreshed"/> since <see cref="ClearRefreshes"/> (timestamps), or null.</summary>
    public (long First, long Last)? Refreshes => _refreshed.IsEmpty ? null : (_refreshed.Min(), _refreshed.Max());

    public override async Task GetAsync(Uri uri, CancellationToken cancellationToken)
    {
        var node = _nodes[(int)((uint)Interlocked.Increment(ref _next) % (uint)_nodes.Count)];
        using var response = await node.SendAsync(HttpCall.Get(uri), cancellationToken).ConfigureAwait(false);
        await ReadToEndAsync(response, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One untimed call per node, so that every node holds a token the server accepts before a valid-token batch: another
    /// target's storm expired this one's token too (the Sandbox expires every token issued so far), and this call pays
    /// for the refresh that follows, outside the measurement.
    /// </summary>
    public async Task PrimeAsync(Uri uri, CancellationToken cancellationToken)
    {
        foreach (var node in _nodes)
        {
            using var response = await node.SendAsync(HttpCall.Get(uri), cancellationToken).ConfigureAwait(false);
            await ReadToEndAsync(response, cancellationToken).ConfigureAwait(false);
        }
    }

    public override ValueTask DisposeAsync() => _dispose();

    /// <summary>Notes the time of every <see cref="TokenRefreshed"/> on its node's event stream.</summary>
    private sealed class RefreshWatcher : ReceiveActor
    {
        public RefreshWatcher(System.Collections.Concurrent.ConcurrentQueue<long> seen) =>
            Receive<TokenRefreshed>(_ => seen.Enqueue(System.Diagnostics.Stopwatch.GetTimestamp()));
    }

    /// <summary>
    /// The runtime options of every storm node: JSON refresh at the Sandbox's <c>/auth/refresh</c>, the pair from a login,
    /// <paramref name="maxCalls"/> calls in flight at once (so a whole batch is in flight and none waits in the runtime's
    /// queue: each asks for its token as soon as it starts) over at most <paramref name="connections"/> connections.
    /// </summary>
    public static HttpRuntimeOptions Options(Uri sandbox, TokenPair login, int maxCalls, int connections) => new()
    {
        MaxConcurrentCalls = maxCalls,
        MaxConnectionsPerServer = connections,
        Auth = new TokenOptions
        {
            Format = TokenWireFormat.Json,
            RefreshEndpoint = new Uri(sandbox, "auth/refresh"),
            AccessToken = login.AccessToken,
            RefreshToken = login.RefreshToken,
        },
    };

    /// <summary>
    /// One runtime in its own ActorSystem, as <c>HttpRuntime.Start</c> runs it. Token requests have their own client and
    /// connection pool, as in the hosted runtime (<see cref="HttpRuntime.TokenHttpClientName"/>): in the shared pool the
    /// refresh would queue behind the thousands of calls waiting for a connection.
    /// </summary>
    public static StormTarget StartSingle(string name, HttpRuntimeOptions options)
    {
        var system = ActorSystem.Create("storm", "akka.loglevel = WARNING\nakka.log-dead-letters = off");
        var calls = new HttpClient(HttpRuntime.CreatePrimaryHandler(options)) { Timeout = Timeout.InfiniteTimeSpan };
        var tokens = new HttpClient(HttpRuntime.CreatePrimaryHandler(options)) { Timeout = Timeout.InfiniteTimeSpan };
        var runtime = HttpRuntime.Start(system, options, () => calls, tokens);
        return new StormTarget(name, [runtime], [system], async () =>
        {
            await system.Terminate().ConfigureAwait(false);
            calls.Dispose();
            tokens.Dispose();
        });
    }
}

/// <summary>
/// The schedule shared by <c>storm</c> and <c>cluster-storm</c>: per round and target (in a rotated order), a batch of
/// calls with a valid token, then the same batch started right after the Sandbox expired every access token, with the
/// server's counters read around each batch.
/// </summary>
internal static class StormRounds
{
    public const string Path = "secure/storm";

    /// <summary>
    /// One batch: its load figures, what the authorization server counted during it, and how long after its start the first
    /// and the last node published <see cref="TokenRefreshed"/> (null when none did).
    /// </summary>
    public sealed record Batch(RunResult Run, AuthStats Server, (TimeSpan First, TimeSpan Last)? Refreshed);

    /// <summary>The batches of one target over the rounds.</summary>
    public sealed class Results(StormTarget target)
    {
        public StormTarget Target { get; } = target;
        public List<Batch> Valid { get; } = [];
        public List<Batch> Storm { get; } = [];
    }

    public static async Task<Results[]> RunAsync(StormTarget[] targets, SandboxControl control, Uri url, int calls, int rounds, int warmupRounds,
        CancellationToken cancellationToken)
    {
        var latencies = new LatencyRecorder(calls);
        var results = targets.Select(t => new Results(t)).ToArray();
        for (var round = -warmupRounds; round < rounds; round++)
        {
            var label = round < 0 ? $"warm-up {round + warmupRounds + 1}/{warmupRounds}" : $"round {round + 1}/{rounds}";
            for (var k = 0; k < targets.Length; k++)
            {
                var t = (Math.Max(round, 0) + k) % targets.Length;
                var target = targets[t];
                await target.PrimeAsync(url, cancellationToken).ConfigureAwait(false);
                var valid = await BatchAsync(target, expireFirst: false).ConfigureAwait(false);
                Report(label, target, "valid", valid);
                var storm = await BatchAsync(target, expireFirst: true).ConfigureAwait(false);
                Report(label, target, "storm", storm);
                if (round < 0) continue;
                results[t].Valid.Add(valid);
                results[t].Storm.Add(storm);
            }
        }
        return results;

        async Task<Batch> BatchAsync(StormTarget target, bool expireFirst)
        {
            AuthStats before = null!;
            var started = 0L;
            var run = await LoadRunner.RunAsync(calls, calls, ct => target.GetAsync(url, ct), latencies, cancellationToken, async () =>
            {
                before = await control.GetAuthStatsAsync(cancellationToken).ConfigureAwait(false);
                target.ClearRefreshes();
                if (expireFirst) await control.ExpireAccessTokensAsync(cancellationToken).ConfigureAwait(false);
                started = System.Diagnostics.Stopwatch.GetTimestamp();
            }).ConfigureAwait(false);
            var after = await control.GetAuthStatsAsync(cancellationToken).ConfigureAwait(false);
            return new Batch(run, after - before, target.Refreshes is { } at
                ? (System.Diagnostics.Stopwatch.GetElapsedTime(started, at.First), System.Diagnostics.Stopwatch.GetElapsedTime(started, at.Last))
                : null);
        }

        static void Report(string label, StormTarget target, string kind, Batch b) => Console.Error.WriteLine(
            $"{label,-14} {target.Name,-10} {kind}: {b.Run.Elapsed.TotalMilliseconds,8:0.0} ms  p50 {b.Run.Latency.P50Ms,8:0.0} ms  p99 {b.Run.Latency.P99Ms,8:0.0} ms  " +
            $"401s {b.Server.RejectedExpired,6}  refreshes {b.Server.RefreshesPerformed}  reuse {b.Server.ReuseEvents}  failures {b.Run.ErrorCount}  " +
            $"refreshed after {(b.Refreshed is { } t ? $"{t.First.TotalMilliseconds:0.0} / {t.Last.TotalMilliseconds:0.0} ms (first / last node)" : "-")}");
    }

    /// <summary>
    /// The table: per target a row for the valid batch and one for the storm, medians over the rounds; the ratios are
    /// medians of the per-round ratios (each pair measured back to back). With two or more targets, the last column
    /// compares each one to the first in the same round.
    /// </summary>
    public static MarkdownTable Table(Results[] results)
    {
        var columns = new List<string> { "runtime", "batch", ">wall ms", ">spread", ">p50 ms", ">p99 ms", ">401s/round", ">refreshes/round", ">refreshed after ms", ">reuse events", ">failures", ">storm/valid" };
        if (results.Length > 1) columns.Add($">vs {results[0].Target.Name}");
        var table = new MarkdownTable([.. columns]);
        foreach (var r in results)
        {
            foreach (var (kind, batches) in new[] { ("valid", r.Valid), ("storm", r.Storm) })
            {
                var wall = batches.Select(b => b.Run.Elapsed.TotalMilliseconds).ToArray();
                var cells = new List<string>
                {
                    r.Target.Name,
                    kind,
                    Stats.Median(wall).ToString("N0", CultureInfo.InvariantCulture),
                    $"{Stats.Spread(wall):P0}".Replace(" ", "", StringComparison.Ordinal),
                    Stats.Median(batches.Select(b => b.Run.Latency.P50Ms)).ToString("0.0", CultureInfo.InvariantCulture),
                    Stats.Median(batches.Select(b => b.Run.Latency.P99Ms)).ToString("0.0", CultureInfo.InvariantCulture),
                    Stats.Median(batches.Select(b => (double)b.Server.RejectedExpired)).ToString("N0", CultureInfo.InvariantCulture),
                    Range(batches.Select(b => b.Server.RefreshesPerformed)),
                    RefreshedAfter(r.Target, batches),
                    batches.Sum(b => b.Server.ReuseEvents).ToString(CultureInfo.InvariantCulture),
                    batches.Sum(b => b.Run.ErrorCount).ToString(CultureInfo.InvariantCulture),
                    kind == "valid" ? "1.00" : Ratio(r.Storm, r.Valid),
                };
                if (results.Length > 1) cells.Add(Ratio(batches, kind == "valid" ? results[0].Valid : results[0].Storm));
                table.AddRow([.. cells]);
            }
        }
        return table;
    }

    /// <summary>The errors of every batch, for the list under the table (they must be none).</summary>
    public static IEnumerable<string> Errors(Results[] results) =>
        from r in results
        from b in r.Valid.Select(b => ("valid", b)).Concat(r.Storm.Select(b => ("storm", b)))
        from e in b.Item2.Run.Errors
        group e.Value by $"{r.Target.Name}, {b.Item1}: {e.Key}" into g
        select $"{g.Sum()} x {g.Key}";

    /// <summary>Median over the rounds of <paramref name="batches"/>' wall time / <paramref name="baseline"/>'s in the same round.</summary>
    private static string Ratio(List<Batch> batches, List<Batch> baseline) =>
        Stats.Median(batches.Zip(baseline, (b, a) => b.Run.Elapsed / a.Run.Elapsed)).ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Median ms to the TokenRefreshed event: "last" for one node, "first / last" for several; "-" when there was none.</summary>
    private static string RefreshedAfter(StormTarget target, List<Batch> batches)
    {
        if (batches.Any(b => b.Refreshed is null)) return batches.Any(b => b.Refreshed is not null) ? "some" : "-";
        var last = Stats.Median(batches.Select(b => b.Refreshed!.Value.Last.TotalMilliseconds)).ToString("0.0", CultureInfo.InvariantCulture);
        if (target.NodeCount == 1) return last;
        return Stats.Median(batches.Select(b => b.Refreshed!.Value.First.TotalMilliseconds)).ToString("0.0", CultureInfo.InvariantCulture) + " / " + last;
    }

    /// <summary>"1" when every round had the same count, else "min–max".</summary>
    private static string Range(IEnumerable<long> values)
    {
        var list = values.ToArray();
        return list.Min() == list.Max() ? list.Min().ToString(CultureInfo.InvariantCulture) : $"{list.Min()}–{list.Max()}";
    }
}
