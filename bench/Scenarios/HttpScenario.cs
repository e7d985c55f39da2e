using System.Diagnostics;
using System.Globalization;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>http</c>: small GETs against the out-of-process Sandbox through (a) a plain HttpClient, (b) HttpClient with the
/// standard resilience handler and (c) this runtime, at several concurrency levels.
/// </summary>
/// <remarks>
/// <para>The clients are interleaved: at each concurrency level every round runs each client once, and the order rotates
/// per round (round r starts with client r mod 3), so slow drift of a shared machine (thermal state, a neighbour's
/// load, the server's own GC) falls on every client alike instead of on whichever happens to run last. The table shows
/// the median over rounds, which ignores one disturbed round.</para>
/// <para>All clients live for the whole scenario (one connection pool each, one actor system), and each gets an untimed
/// warm-up at every concurrency level: JIT tiering, connection set-up for the new level and, for (c), the
/// first use of the dispatcher are not what is measured.</para>
/// </remarks>
internal sealed class HttpScenario : IScenario
{
    private const string Path = "api/small";

    /// <summary>The shortest warm-up per client and level, whatever the call count.</summary>
    private static readonly TimeSpan MinWarmup = TimeSpan.FromSeconds(1);

    public string Name => "http";

    public string Usage => "http [--requests 20000] [--concurrency 1,16,64,256] [--rounds 3] [--warmup N]";

    public string Description =>
        "N small GETs of /api/small at each concurrency through HttpClient, HttpClient + standard resilience handler, and the Courier runtime; " +
        "--warmup (calls per client and level, repeated until 1 s has passed) defaults to max(4 x C, min(N / 10, 2000)).";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "requests", "concurrency", "rounds", "warmup");
        var requests = options.Int("requests", 20_000);
        var levels = options.IntList("concurrency", [1, 16, 64, 256]);
        var rounds = options.Int("rounds", 3);
        var fixedWarmup = options.Int("warmup", -1, min: 0);
        int Warmup(int concurrency) => fixedWarmup >= 0 ? fixedWarmup : Math.Max(4 * concurrency, Math.Min(requests / 10, 2_000));

        var command = RunInfo.Command(Name,
            ("requests", requests.ToString(CultureInfo.InvariantCulture)),
            ("concurrency", string.Join(',', levels)),
            ("rounds", rounds.ToString(CultureInfo.InvariantCulture)));
        if (fixedWarmup >= 0) command += $" --warmup {fixedWarmup}";

        await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
        var url = new Uri(sandbox.BaseAddress, Path);
        Progress($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; target {url}");

        var maxConcurrency = levels.Max();
        HttpTarget[] targets = [new RawHttpTarget(maxConcurrency), new ResilienceHttpTarget(maxConcurrency), new CourierHttpTarget(maxConcurrency)];
        try
        {
            var latencies = new LatencyRecorder(Math.Max(requests, levels.Max(Warmup)));
            var table = new MarkdownTable(">C", "client", ">req/s", ">spread", ">p50 ms", ">p99 ms", ">CPU µs/call", ">alloc B/call", ">req/s vs (a)", ">alloc vs (a)", ">errors");
            var allErrors = new Dictionary<string, int>(StringComparer.Ordinal);
            var warmupErrors = 0;

            foreach (var concurrency in levels)
            {
                foreach (var target in targets.Where(_ => Warmup(concurrency) > 0))
                {
                    // At least MinWarmup of wall time too: tiered JIT promotes hot methods in the background some time
                    // after they become hot, and a count alone is too short for that at C = 1.
                    var warmingSince = Stopwatch.GetTimestamp();
                    do
                    {
                        var warm = await LoadRunner.RunAsync(Warmup(concurrency), concurrency, ct => target.GetAsync(url, ct), latencies, cancellationToken);
                        warmupErrors += warm.ErrorCount;
                        Merge(allErrors, warm.Errors, $"warm-up, C={concurrency}, {target.Name}");
                    }
                    while (Stopwatch.GetElapsedTime(warmingSince) < MinWarmup);
                }

                var runs = targets.Select(_ => new List<RunResult>(rounds)).ToArray();
                for (var round = 0; round < rounds; round++)
                {
                    for (var k = 0; k < targets.Length; k++)
                    {
                        var t = (round + k) % targets.Length;
                        var run = await LoadRunner.RunAsync(requests, concurrency, ct => targets[t].GetAsync(url, ct), latencies, cancellationToken);
                        runs[t].Add(run);
                        Merge(allErrors, run.Errors, $"C={concurrency}, {targets[t].Name}");
                        Progress($"C={concurrency,-4} round {round + 1}/{rounds} {targets[t].Name,-28} {run.RequestsPerSecond,9:N0} req/s  " +
                                 $"p50 {run.Latency.P50Ms,7:0.000} ms  p99 {run.Latency.P99Ms,7:0.000} ms  CPU {run.CpuMicrosecondsPerCall,5:0.0} µs/call  {run.AllocatedBytesPerCall,7:N0} B/call  errors {run.ErrorCount}");
                    }
                }

                var baseline = Summary.Of(runs[0]);
                for (var t = 0; t < targets.Length; t++)
                {
                    var s = Summary.Of(runs[t]);
                    table.AddRow(
                        concurrency.ToString(CultureInfo.InvariantCulture),
                        targets[t].Name,
                        s.RequestsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                        $"{s.Spread:P0}".Replace(" ", "", StringComparison.Ordinal),
                        Ms(s.P50Ms),
                        Ms(s.P99Ms),
                        s.CpuPerCall.ToString("0.0", CultureInfo.InvariantCulture),
                        s.AllocatedPerCall.ToString("N0", CultureInfo.InvariantCulture),
                        Ratio(s.RequestsPerSecond / baseline.RequestsPerSecond),
                        Ratio(s.AllocatedPerCall / baseline.AllocatedPerCall),
                        s.Errors.ToString(CultureInfo.InvariantCulture));
                }
            }

            PrintReport(command, url, requests, rounds, levels.Select(c => Warmup(c)).Distinct(), table);
            if (allErrors.Count == 0) return 0;

            Console.WriteLine();
            Console.WriteLine($"**Errors** (must be 0; {warmupErrors} during warm-ups):");
            Console.WriteLine();
            foreach (var (message, count) in allErrors.OrderByDescending(e => e.Value)) Console.WriteLine($"- {count} x {message}");
            return 1;
        }
        finally
        {
            foreach (var target in targets) await target.DisposeAsync();
        }
    }

    private static void PrintReport(string command, Uri url, int requests, int rounds, IEnumerable<int> warmups, MarkdownTable table)
    {
        RunInfo.PrintHeader(command);
        Console.WriteLine(table);
        Console.WriteLine(
            $"""
            Each row: median of {rounds} interleaved rounds of {requests:N0} GETs of `{url.AbsolutePath}` (server: Sandbox, a separate process),
            C concurrent workers; untimed warm-up per client before each C: {string.Join("/", warmups)} calls, repeated for at least {MinWarmup.TotalSeconds:0} s.
            *spread*: (max - min) / median of req/s over the rounds. Latency: per call, send to body read and response disposed.
            *CPU µs/call*: CPU time (user + kernel, all threads) of the client process / N; the server's CPU is not included.
            *alloc B/call*: `GC.GetTotalAllocatedBytes(true)` delta / N for the WHOLE client process: everything in it counts
            (worker tasks, HttpClient, Polly, the idle actor system's scheduler), the server's allocations do not.
            *vs (a)*: ratio to (a) at the same C; req/s above 1 is faster than (a), alloc above 1 allocates more.
            """);
    }

    private static void Merge(Dictionary<string, int> into, IReadOnlyDictionary<string, int> errors, string where)
    {
        foreach (var (message, count) in errors)
        {
            var key = $"{where}: {message}";
            into[key] = into.GetValueOrDefault(key) + count;
        }
    }

    private static void Progress(string line) => Console.Error.WriteLine(line);

    private static string Ms(double ms) => ms.ToString("0.000", CultureInfo.InvariantCulture);

    private static string Ratio(double ratio) => ratio.ToString("0.00", CultureInfo.InvariantCulture);

    /// <summary>Medians over the rounds of one client at one concurrency, each figure on its own.</summary>
    private sealed record Summary(double RequestsPerSecond, double Spread, double P50Ms, double P99Ms, double CpuPerCall, double AllocatedPerCall, int Errors)
    {
        public static Summary Of(IReadOnlyList<RunResult> runs)
        {
            var rps = runs.Select(r => r.RequestsPerSecond).ToArray();
            return new Summary(
                Stats.Median(rps),
                Stats.Spread(rps),
                Stats.Median(runs.Select(r => r.Latency.P50Ms)),
                Stats.Median(runs.Select(r => r.Latency.P99Ms)),
                Stats.Median(runs.Select(r => r.CpuMicrosecondsPerCall)),
                Stats.Median(runs.Select(r => r.AllocatedBytesPerCall)),
                runs.Sum(r => r.ErrorCount));
        }
    }
}
