using System.Globalization;
using System.Text.Json;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>batch</c>: the CLI's <c>batch</c> command (Courier.Cli.dll, a child process) on generated JSON-lines files against
/// the Sandbox (a child process), side by side with a plain HttpClient loop doing the same work (<c>batch-plain</c>, a
/// child process too): throughput, and peak memory for a small and a large file, which must not grow with the file.
/// </summary>
internal sealed class BatchScenario : IScenario
{
    public string Name => "batch";

    public string Usage => "batch [--lines 10000,100000] [--concurrency 256] [--rounds 3] [--dir /tmp] [--baseline PATH/Courier.Cli.dll]";

    public string Description =>
        "the CLI's batch command vs a plain HttpClient loop (both child processes) over the same generated JSONL files of small POSTs to /api: " +
        "calls/s, ratio to plain, and each process's peak RSS per file size.";

    /// <summary>A client: the plain loop (<paramref name="Cli"/> null) or a build of the CLI.</summary>
    private sealed record Client(string Name, string? Cli);

    private sealed record Sample(double Seconds, long Lines, ProcessRun Process)
    {
        public double CallsPerSecond => Lines / Seconds;
    }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "lines", "concurrency", "rounds", "dir", "baseline");
        var sizes = options.IntList("lines", [10_000, 100_000]);
        var concurrency = options.Int("concurrency", 256);
        var rounds = options.Int("rounds", 3);
        var dir = options.String("dir", Path.GetTempPath().TrimEnd(Path.DirectorySeparatorChar));
        var baseline = options.String("baseline", "");
        if (baseline.Length > 0 && !File.Exists(baseline)) throw new UsageException($"--baseline: no such file '{baseline}'");
        var command = baseline.Length > 0
            ? RunInfo.Command(Name, ("lines", string.Join(',', sizes)), ("concurrency", I(concurrency)), ("rounds", I(rounds)), ("dir", dir), ("baseline", baseline))
            : RunInfo.Command(Name, ("lines", string.Join(',', sizes)), ("concurrency", I(concurrency)), ("rounds", I(rounds)), ("dir", dir));

        var cli = await ChildProcess.LocateOrBuildAsync("Cli", cancellationToken);
        Client[] clients = baseline.Length > 0
            ? [new("(a) plain HttpClient loop", null), new("(b) courier batch (CLI)", cli), new("(c) baseline courier batch", baseline)]
            : [new("(a) plain HttpClient loop", null), new("(b) courier batch (CLI)", cli)];
        var work = Directory.CreateDirectory(Path.Combine(dir, "courier-bench-batch-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
            Progress($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; work folder {work}");

            var table = new MarkdownTable(">lines", "client", ">calls/s", ">spread", ">vs (a)", ">process wall s", ">peak RSS MiB", ">CPU s",
                ">CPU µs/line", ">CPU spread", ">CPU vs (a)", ">failures");
            var peaks = clients.Select(_ => new List<double>()).ToArray();
            var failures = 0L;
            foreach (var lines in sizes)
            {
                var input = Path.Combine(work, $"input-{lines}.jsonl");
                await WriteInputAsync(input, lines, sandbox.BaseAddress, cancellationToken);
                var samples = clients.Select(_ => new List<Sample>()).ToArray();
                for (var round = 0; round < rounds; round++)
                {
                    for (var k = 0; k < clients.Length; k++)
                    {
                        var c = (round + k) % clients.Length;
                        var output = Path.Combine(work, "output.jsonl");
                        var sample = await RunAsync(clients[c], input, output, concurrency, cancellationToken);
                        var answered = File.ReadLines(output).Count();
                        File.Delete(output);
                        File.Delete(output + ".sent"); // the CLI's record of what it sent, beside its results
                        if (answered != lines) throw new InvalidOperationException($"{clients[c].Name}: {answered} results for {lines} lines");
                        failures += sample.Process.ExitCode == 0 ? 0 : 1;
                        samples[c].Add(sample);
                        Progress($"{lines,7} lines round {round + 1}/{rounds} {clients[c].Name,-26} {sample.CallsPerSecond,8:N0} calls/s  {sample.Seconds,6:0.00} s " +
                                 $"(process {sample.Process.Elapsed.TotalSeconds,6:0.00} s)  peak RSS {sample.Process.PeakRssMiB,6:0.0} MiB  CPU {sample.Process.Cpu?.TotalSeconds,6:0.00} s  exit {sample.Process.ExitCode}");
                    }
                }
                File.Delete(input);

                for (var c = 0; c < clients.Length; c++)
                {
                    var rates = samples[c].Select(s => s.CallsPerSecond).ToArray();
                    var peak = Stats.Median(samples[c].Select(s => s.Process.PeakRssMiB));
                    peaks[c].Add(peak);
                    var cpu = samples[c].All(s => s.Process.Cpu is not null) ? samples[c].Select(s => s.Process.Cpu!.Value.TotalSeconds * 1e6 / lines).ToArray() : null;
                    var cpuOfA = samples[0].All(s => s.Process.Cpu is not null) ? samples[0].Select(s => s.Process.Cpu!.Value.TotalSeconds * 1e6 / lines).ToArray() : null;
                    table.AddRow(lines.ToString("N0", CultureInfo.InvariantCulture), clients[c].Name, Stats.Median(rates).ToString("N0", CultureInfo.InvariantCulture),
                        $"{Stats.Spread(rates):P0}".Replace(" ", "", StringComparison.Ordinal),
                        Stats.Median(rates.Zip(samples[0], (r, a) => r / a.CallsPerSecond)).ToString("0.00", CultureInfo.InvariantCulture),
                        Stats.Median(samples[c].Select(s => s.Process.Elapsed.TotalSeconds)).ToString("0.00", CultureInfo.InvariantCulture),
                        peak.ToString("0.0", CultureInfo.InvariantCulture),
                        samples[c].All(s => s.Process.Cpu is not null) ? Stats.Median(samples[c].Select(s => s.Process.Cpu!.Value.TotalSeconds)).ToString("0.00", CultureInfo.InvariantCulture) : "n/a",
                        cpu is null ? "n/a" : Stats.Median(cpu).ToString("0.0", CultureInfo.InvariantCulture),
                        cpu is null ? "n/a" : $"{Stats.Spread(cpu):P0}".Replace(" ", "", StringComparison.Ordinal),
                        cpu is null || cpuOfA is null ? "n/a" : Stats.Median(cpu.Zip(cpuOfA, (x, a) => x / a)).ToString("0.00", CultureInfo.InvariantCulture),
                        samples[c].Count(s => s.Process.ExitCode != 0).ToString(CultureInfo.InvariantCulture));
                }
            }

            RunInfo.PrintHeader(command);
            Console.WriteLine(table);
            Console.WriteLine(
                $$"""
                Each row: median of {{rounds}} interleaved rounds (the order alternates) of one run over a generated file of that many lines,
                each `{"id","method":"POST","url":".../api/batch/N","body":{"n":N} }` (the Sandbox echoes it: ~0.5 KB answers; server: a
                separate process), at most {{concurrency}} calls in flight.{{(baseline.Length > 0 ? $" (c) is the same command through `{baseline}` (another build)." : "")}} (a) `Courier.Bench.dll batch-plain IN OUT --concurrency {{concurrency}}`: the
                same loop as the CLI's BatchRunner (line by line, a semaphore, results through a bounded channel to one writer) over one plain
                HttpClient; (b) `dotnet Courier.Cli.dll batch IN --out OUT --concurrency {{concurrency}} --plain --json` (Release; its appsettings.json).
                Both are child processes started fresh for every run. *calls/s*: lines / the run's own time (reported by the process: input
                opened to last result written; start-up excluded). *vs (a)*: median over the rounds of calls/s / (a)'s in the same round.
                *process wall s*: start to exit of the process, start-up included. *CPU s*: user + kernel time of the process (start-up included);
                *CPU µs/line*: the same over the lines, *CPU spread* its (max - min) / median, *CPU vs (a)* the median over the rounds of the
                ratio to (a)'s in the same round: on 2 cores shared with the server, what decides the throughput ratio.
                {{MeasuredProcess.PeakMethod}}. Every run's output is checked to hold one result per line; *failures*: runs with a non-zero exit
                (a failed call).
                """);
            Console.WriteLine();
            var memory = new MarkdownTable(["client", .. sizes.Select(s => $">peak RSS MiB, {s:N0} lines"), ">largest / smallest"]);
            for (var c = 0; c < clients.Length; c++)
                memory.AddRow([clients[c].Name, .. peaks[c].Select(p => p.ToString("0.0", CultureInfo.InvariantCulture)),
                    (peaks[c][^1] / peaks[c][0]).ToString("0.00", CultureInfo.InvariantCulture)]);
            Console.WriteLine(memory);
            return failures == 0 ? 0 : 1;
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

    private static async Task<Sample> RunAsync(Client client, string input, string output, int concurrency, CancellationToken cancellationToken)
    {
        string[] args = client.Cli is { } cli
            ? [cli, "batch", input, "--out", output, "--concurrency", I(concurrency), "--plain", "--json"]
            : [ChildProcess.BenchAssembly, "batch-plain", input, output, "--concurrency", I(concurrency)];
        var run = await MeasuredProcess.RunAsync(ChildProcess.DotnetHost(), args, cancellationToken);
        // Both print one JSON summary line last on stdout: {"lines", ..., "seconds"}.
        var summary = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault()
                      ?? throw new InvalidOperationException($"{client.Name} printed no summary (exit {run.ExitCode}):{Environment.NewLine}{run.StderrTail}");
        using var json = JsonDocument.Parse(summary);
        return new Sample(json.RootElement.GetProperty("seconds").GetDouble(), json.RootElement.GetProperty("lines").GetInt64(), run);
    }

    private static async Task WriteInputAsync(string path, int lines, Uri server, CancellationToken cancellationToken)
    {
        await using var writer = new StreamWriter(path);
        for (var i = 1; i <= lines; i++)
            await writer.WriteLineAsync(("{\"id\":\"" + I(i) + "\",\"method\":\"POST\",\"url\":\"" + server + "api/batch/" + I(i) + "\",\"body\":{\"n\":" + I(i) + "}}").AsMemory(), cancellationToken);
    }

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Progress(string line) => Console.Error.WriteLine(line);
}
