using System.Globalization;
using System.Net;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>overhead</c>: the runtime's own cost per call, without a network. (a) a plain HttpClient and (c) the runtime, both
/// over the same in-process handler that answers every GET at once with a small body, C concurrent workers, interleaved
/// rounds. No server, no socket and no kernel share the CPU, so CPU µs per call and bytes per call are the client's own
/// and far steadier than in <c>http</c>; (c) − (a) is what the runtime adds to a call (the mailbox hops, the actor's
/// state machine, its timers, the facade).
/// </summary>
internal sealed class OverheadScenario : IScenario
{
    private static readonly Uri Url = new("http://overhead.bench/api/small");

    public string Name => "overhead";

    public string Usage => "overhead [--requests 200000] [--concurrency 1,64,256] [--rounds 5] [--clients a,c]";

    public string Description =>
        "the runtime's own CPU and allocation per call over an in-process handler that answers at once (no network), vs a plain HttpClient over the same handler";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "requests", "concurrency", "rounds", "clients");
        var requests = options.Int("requests", 200_000);
        var levels = options.IntList("concurrency", [1, 64, 256]);
        var rounds = options.Int("rounds", 5);
        // "c" alone runs only the runtime: for a profiler, whose samples would otherwise mix both clients.
        var clients = options.String("clients", "a,c").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        if (clients.Length == 0 || clients.Any(c => c is not ("a" or "c"))) throw new UsageException("option '--clients' takes a, c or a,c");
        var command = RunInfo.Command(Name,
            ("requests", requests.ToString(CultureInfo.InvariantCulture)),
            ("concurrency", string.Join(',', levels)),
            ("rounds", rounds.ToString(CultureInfo.InvariantCulture)),
            ("clients", string.Join(',', clients)));

        using var handler = new CannedHandler();
        var targets = new List<HttpTarget>(2);
        if (clients.Contains("a")) targets.Add(new RawHttpTarget(levels.Max(), handler));
        if (clients.Contains("c")) targets.Add(new CourierHttpTarget(levels.Max(), handler));
        var hasRaw = clients.Contains("a");
        try
        {
            var latencies = new LatencyRecorder(requests);
            var table = new MarkdownTable(">C", "client", ">calls/s", ">spread", ">p50 µs", ">p99 µs", ">CPU µs/call", ">alloc B/call", ">CPU µs/call, (c) − (a)", ">alloc B/call, (c) − (a)");
            foreach (var concurrency in levels)
            {
                foreach (var target in targets)
                    await LoadRunner.RunAsync(Math.Min(requests, 20_000), concurrency, ct => target.GetAsync(Url, ct), latencies, cancellationToken);
                var runs = targets.Select(_ => new List<RunResult>(rounds)).ToArray();
                for (var round = 0; round < rounds; round++)
                {
                    for (var k = 0; k < targets.Count; k++)
                    {
                        var t = (round + k) % targets.Count;
                        var run = await LoadRunner.RunAsync(requests, concurrency, ct => targets[t].GetAsync(Url, ct), latencies, cancellationToken);
                        if (run.ErrorCount > 0) throw new InvalidOperationException($"{targets[t].Name}: {run.ErrorCount} errors, e.g. {run.Errors.Keys.First()}");
                        runs[t].Add(run);
                        Console.Error.WriteLine($"C={concurrency,-4} round {round + 1}/{rounds} {targets[t].Name,-22} {run.RequestsPerSecond,10:N0} calls/s  " +
                                                $"CPU {run.CpuMicrosecondsPerCall,6:0.00} µs/call  {run.AllocatedBytesPerCall,7:N0} B/call");
                    }
                }
                var raw = !hasRaw ? ((double Cpu, double Alloc)?)null : (Cpu: Stats.Median(runs[0].Select(r => r.CpuMicrosecondsPerCall)), Alloc: Stats.Median(runs[0].Select(r => r.AllocatedBytesPerCall)));
                for (var t = 0; t < targets.Count; t++)
                {
                    var rate = runs[t].Select(r => r.RequestsPerSecond).ToArray();
                    var cpu = Stats.Median(runs[t].Select(r => r.CpuMicrosecondsPerCall));
                    var alloc = Stats.Median(runs[t].Select(r => r.AllocatedBytesPerCall));
                    table.AddRow(concurrency.ToString(CultureInfo.InvariantCulture), targets[t].Name,
                        Stats.Median(rate).ToString("N0", CultureInfo.InvariantCulture),
                        $"{Stats.Spread(rate):P0}".Replace(" ", "", StringComparison.Ordinal),
                        (Stats.Median(runs[t].Select(r => r.Latency.P50Ms)) * 1000).ToString("0", CultureInfo.InvariantCulture),
                        (Stats.Median(runs[t].Select(r => r.Latency.P99Ms)) * 1000).ToString("0", CultureInfo.InvariantCulture),
                        cpu.ToString("0.00", CultureInfo.InvariantCulture),
                        alloc.ToString("N0", CultureInfo.InvariantCulture),
                        t == 0 || raw is null ? "" : (cpu - raw.Value.Cpu).ToString("0.00", CultureInfo.InvariantCulture),
                        t == 0 || raw is null ? "" : (alloc - raw.Value.Alloc).ToString("N0", CultureInfo.InvariantCulture));
                }
            }

            RunInfo.PrintHeader(command);
            Console.WriteLine(table);
            Console.WriteLine(
                $"""
                Each row: median of {rounds} interleaved rounds of {requests:N0} GETs answered by an in-process handler (200, a 64-byte
                body, no network), C concurrent workers, after an untimed warm-up per client and C.
                *CPU µs/call*: CPU time of the whole process / N (no server shares it). *(c) − (a)*: what the runtime adds per call.
                """);
            return 0;
        }
        finally
        {
            foreach (var target in targets) await target.DisposeAsync();
        }
    }

    /// <summary>Answers every request at once: 200 with a 64-byte JSON body, as the Sandbox's <c>/api/small</c> roughly does.</summary>
    private sealed class CannedHandler : HttpMessageHandler
    {
        private static readonly byte[] Body = "{\"id\":1,\"name\":\"small\",\"tags\":[\"a\",\"b\"],\"ok\":true,\"pad\":\"xxxxxx\"}"u8.ToArray();

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request, Content = new ByteArrayContent(Body) });
    }
}
