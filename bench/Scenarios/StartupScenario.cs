using System.Globalization;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>startup</c>: the wall time of one CLI <c>request</c> to the Sandbox on loopback (a fresh process each time, start-up
/// included: what a user waits for), side by side with curl doing the same GET, and with the CLI's <c>--version</c> (the
/// floor of any command: the .NET host, the assemblies, the command line parsed, nothing started).
/// </summary>
internal sealed class StartupScenario : IScenario
{
    public string Name => "startup";

    public string Usage => "startup [--rounds 15] [--warmup 2] [--baseline PATH/Courier.Cli.dll]";

    public string Description =>
        "the CLI's start-up: wall time of `Courier.Cli.dll request GET URL` (one call to the Sandbox on loopback, a new process each time) " +
        "vs curl and vs the CLI's --version, interleaved rounds, medians.";

    private sealed record Client(string Name, Func<string, string, (string File, string[] Args)> Command);

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "rounds", "warmup", "baseline");
        var rounds = options.Int("rounds", 15);
        var warmup = options.Int("warmup", 2);
        var baseline = options.String("baseline", "");
        if (baseline.Length > 0 && !File.Exists(baseline)) throw new UsageException($"--baseline: no such file '{baseline}'");
        var command = baseline.Length > 0
            ? RunInfo.Command(Name, ("rounds", I(rounds)), ("warmup", I(warmup)), ("baseline", baseline))
            : RunInfo.Command(Name, ("rounds", I(rounds)), ("warmup", I(warmup)));

        var cli = await ChildProcess.LocateOrBuildAsync("Cli", cancellationToken);
        var clients = new List<Client>
        {
            new("(a) curl -sS -f -o /dev/null URL", (_, url) => ("curl", ["-sS", "-f", "-o", "/dev/null", url])),
            new("(b) courier request GET URL", (dll, url) => (ChildProcess.DotnetHost(), [dll, "request", "GET", url, "--plain"])),
            new("(c) courier --version", (dll, _) => (ChildProcess.DotnetHost(), [dll, "--version"])),
        };
        // Another build of the CLI (an earlier commit, say), measured in the same rounds: before and after side by side.
        if (baseline.Length > 0)
            clients.Add(new("(d) baseline request GET URL", (_, url) => (ChildProcess.DotnetHost(), [baseline, "request", "GET", url, "--plain"])));
        if (!CurlExists())
        {
            Progress("curl not found: the (a) row is left out (apt-get install curl)");
            clients.RemoveAt(0);
        }

        await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
        var url = new Uri(sandbox.BaseAddress, "/api/small").ToString();
        Progress($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; CLI {cli}");

        var samples = clients.Select(_ => new List<ProcessRun>()).ToArray();
        for (var round = -warmup; round < rounds; round++)
        {
            for (var k = 0; k < clients.Count; k++)
            {
                var c = ((round % clients.Count) + clients.Count + k) % clients.Count; // rotated order
                var (file, arguments) = clients[c].Command(cli, url);
                var run = (await MeasuredProcess.RunAsync(file, arguments, cancellationToken)).EnsureSuccess(clients[c].Name);
                if (round < 0) continue; // warm-up: the page cache, the Sandbox's first request
                samples[c].Add(run);
                Progress($"round {round + 1}/{rounds} {clients[c].Name,-34} {run.Elapsed.TotalMilliseconds,7:0} ms  CPU {run.Cpu?.TotalMilliseconds,5:0} ms  " +
                         $"peak RSS {run.PeakRssMiB,6:0.0} MiB");
            }
        }

        var curl = clients[0].Name.StartsWith("(a)", StringComparison.Ordinal) ? samples[0] : null;
        var table = new MarkdownTable("client", ">wall ms (median)", ">min", ">max", ">spread", ">CPU ms (median)", ">peak RSS MiB", ">vs curl (wall)");
        for (var c = 0; c < clients.Count; c++)
        {
            var walls = samples[c].Select(s => s.Elapsed.TotalMilliseconds).ToArray();
            table.AddRow(clients[c].Name, F0(Stats.Median(walls)), F0(walls.Min()), F0(walls.Max()),
                $"{Stats.Spread(walls):P0}".Replace(" ", "", StringComparison.Ordinal),
                samples[c].All(s => s.Cpu is not null) ? F0(Stats.Median(samples[c].Select(s => s.Cpu!.Value.TotalMilliseconds))) : "n/a",
                Stats.Median(samples[c].Select(s => s.PeakRssMiB)).ToString("0.0", CultureInfo.InvariantCulture),
                curl is null ? "n/a" : Stats.Median(walls.Zip(curl, (w, a) => w / a.Elapsed.TotalMilliseconds)).ToString("0.0", CultureInfo.InvariantCulture));
        }

        RunInfo.PrintHeader(command);
        Console.WriteLine(table);
        Console.WriteLine(
            $"""
            Each row: {rounds} interleaved rounds (the order rotates; {warmup} untimed rounds first), each a new process started and
            waited for by this one: *wall ms* is start to exit (what a user waits for), *CPU ms* user + kernel time of the process,
            {MeasuredProcess.PeakMethod}. *spread*: (max - min) / median. *vs curl*: median over the rounds of the wall time over
            curl's in the same round. (b) is the build output `{Path.GetFileName(cli)}` run by `dotnet` (Release: precompiled with
            ReadyToRun), one GET of `/api/small` on the Sandbox (a separate process, started once); (c) parses the command line and
            prints the version, nothing else: the floor of every command.{(baseline.Length > 0 ? $" (d) is the same request through `{baseline}`." : "")}
            """);
        return 0;
    }

    private static bool CurlExists() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator).Any(p => File.Exists(Path.Combine(p, "curl")));

    private static string F0(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Progress(string line) => Console.Error.WriteLine(line);
}
