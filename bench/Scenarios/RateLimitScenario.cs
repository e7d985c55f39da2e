using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>ratelimit</c>: a batch of GETs against the Sandbox's rate-limited API (<c>/limited</c>: a server-wide token bucket,
/// 429 + <c>Retry-After</c> beyond it), through the CLI's <c>batch</c> (a child process) and through a plain HttpClient
/// loop with naive retries (in this process): goodput, lines that failed, and the share of the requests the server
/// saw that it answered 429, side by side with the ideal time (lines / rate).
/// </summary>
internal sealed class RateLimitScenario : IScenario
{
    public string Name => "ratelimit";

    public string Usage => "ratelimit [--lines 5000] [--rate 500] [--concurrency 256] [--retries 5] [--dir /tmp]";

    public string Description =>
        "a batch against a rate-limited Sandbox endpoint (429 + Retry-After): goodput and 429 share of the CLI's batch vs a plain HttpClient loop with naive retries.";

    private sealed record Sample(string Client, long Succeeded, long Failed, double Seconds, long Admitted, long Throttled)
    {
        public double ThrottledShare => Admitted + Throttled == 0 ? 0 : (double)Throttled / (Admitted + Throttled);
    }

    private sealed record LimitStats(int? Rate, long Admitted, long Throttled);

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "lines", "rate", "concurrency", "retries", "dir");
        var lines = options.Int("lines", 5000);
        var rate = options.Int("rate", 500);
        var concurrency = options.Int("concurrency", 256);
        var retries = options.Int("retries", 5, min: 0);
        var dir = options.String("dir", Path.GetTempPath().TrimEnd(Path.DirectorySeparatorChar));
        var command = RunInfo.Command(Name, ("lines", I(lines)), ("rate", I(rate)), ("concurrency", I(concurrency)), ("retries", I(retries)), ("dir", dir));

        var cli = await ChildProcess.LocateOrBuildAsync("Cli", cancellationToken);
        var work = Directory.CreateDirectory(Path.Combine(dir, "courier-bench-ratelimit-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
            using var control = new HttpClient { BaseAddress = sandbox.BaseAddress };
            Progress($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; limit {rate}/s, 429 + Retry-After: 1 beyond it");
            var input = Path.Combine(work, "input.jsonl");
            await File.WriteAllLinesAsync(input, Enumerable.Range(1, lines).Select(i =>
                "{\"id\":\"" + I(i) + "\",\"url\":\"" + sandbox.BaseAddress + "limited/" + I(i) + "\"}"), cancellationToken);

            var samples = new List<Sample>();
            foreach (var client in new[] { "(a) HttpClient loop, naive retries", "(b) courier batch (CLI)" })
            {
                using (var reset = await control.PostAsync($"_sandbox/limit?rate={I(rate)}&retryAfter=1", null, cancellationToken)) reset.EnsureSuccessStatusCode();
                var (succeeded, failed, seconds) = client.StartsWith("(a)", StringComparison.Ordinal)
                    ? await RunPlainAsync(input, concurrency, retries, cancellationToken)
                    : await RunCliAsync(cli, input, Path.Combine(work, "out.jsonl"), concurrency, retries, cancellationToken);
                var stats = await control.GetFromJsonAsync<LimitStats>("_sandbox/limit", JsonSerializerOptions.Web, cancellationToken)
                            ?? throw new InvalidOperationException("empty answer from /_sandbox/limit");
                var sample = new Sample(client, succeeded, failed, seconds, stats.Admitted, stats.Throttled);
                samples.Add(sample);
                Progress($"{client,-36} {succeeded,6} ok {failed,6} failed in {seconds,6:0.00} s; server: {stats.Admitted} admitted, {stats.Throttled} answered 429 ({sample.ThrottledShare:P1})");
            }

            var ideal = (double)lines / rate;
            var table = new MarkdownTable("client", ">succeeded", ">failed", ">wall s", ">× ideal", ">goodput/s", ">requests seen", ">429 share");
            foreach (var s in samples)
                table.AddRow(s.Client, I(s.Succeeded), I(s.Failed), F(s.Seconds), F(s.Seconds / ideal), (s.Succeeded / s.Seconds).ToString("N0", CultureInfo.InvariantCulture),
                    I(s.Admitted + s.Throttled), s.ThrottledShare.ToString("P1", CultureInfo.InvariantCulture));
            RunInfo.PrintHeader(command);
            Console.WriteLine(table);
            Console.WriteLine(
                $"""
                {lines} GETs of `/limited/N` (the Sandbox, a separate process: a server-wide token bucket of {rate}/s, burst {Math.Max(1, rate / 10)},
                429 with `Retry-After: 1` beyond it), at most {concurrency} in flight. Ideal wall time: lines / rate = {F(ideal)} s.
                (a) one HttpClient, a semaphore, and on 429 or 5xx up to {retries} retries after a fixed 100 ms (what a hand-written loop does).
                (b) `dotnet Courier.Cli.dll batch IN --out OUT --concurrency {concurrency} --retries {retries} --plain --json`.
                *goodput/s*: succeeded lines / wall s. *429 share*: the server's 429 answers / every request it saw.
                """);
            return 0;
        }
        finally
        {
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException ex)
            {
                Progress($"could not delete {work}: {ex.Message}");
            }
        }
    }

    private static async Task<(long, long, double)> RunCliAsync(string cli, string input, string output, int concurrency, int retries, CancellationToken cancellationToken)
    {
        var run = await MeasuredProcess.RunAsync(ChildProcess.DotnetHost(),
            [cli, "batch", input, "--out", output, "--concurrency", I(concurrency), "--retries", I(retries), "--plain", "--json"], cancellationToken);
        var summary = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
                      ?? throw new InvalidOperationException($"the CLI printed no summary (exit {run.ExitCode}):{Environment.NewLine}{run.StderrTail}");
        File.Delete(output);
        File.Delete(output + ".sent");
        using var json = JsonDocument.Parse(summary);
        var root = json.RootElement;
        return (root.GetProperty("succeeded").GetInt64(), root.GetProperty("failed").GetInt64(), root.GetProperty("seconds").GetDouble());
    }

    /// <summary>The naive loop: what a caller writes by hand. Retries a 429/5xx after a fixed pause, ignoring Retry-After.</summary>
    private static async Task<(long, long, double)> RunPlainAsync(string input, int concurrency, int retries, CancellationToken cancellationToken)
    {
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue });
        using var slots = new SemaphoreSlim(concurrency, concurrency);
        long succeeded = 0, failed = 0;
        var stopwatch = Stopwatch.StartNew();
        var calls = new List<Task>();
        foreach (var line in File.ReadLines(input))
        {
            using var document = JsonDocument.Parse(line);
            var url = new Uri(document.RootElement.GetProperty("url").GetString()!);
            await slots.WaitAsync(cancellationToken);
            calls.Add(Task.Run(async () =>
            {
                try
                {
                    for (var attempt = 0; ; attempt++)
                    {
                        using var response = await http.GetAsync(url, cancellationToken);
                        if (response.IsSuccessStatusCode) { Interlocked.Increment(ref succeeded); return; }
                        var retryable = response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500;
                        if (!retryable || attempt >= retries) { Interlocked.Increment(ref failed); return; }
                        await Task.Delay(100, cancellationToken);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref failed);
                }
                finally
                {
                    slots.Release();
                }
            }, cancellationToken));
        }
        await Task.WhenAll(calls);
        return (succeeded, failed, stopwatch.Elapsed.TotalSeconds);
    }

    private static string I(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string F(double value) => value.ToString("0.00", CultureInfo.InvariantCulture);

    private static void Progress(string line) => Console.Error.WriteLine(line);
}
