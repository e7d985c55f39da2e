using System.Globalization;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>storm</c>: the refresh storm of one runtime. A batch of concurrent calls to <c>/secure</c> with a valid token, then
/// the same batch started right after the Sandbox expired the token: the calls sent with it are refused with 401, and
/// exactly one refresh must serve them all, with no failure and no refresh-token reuse.
/// </summary>
internal sealed class StormScenario : IScenario
{
    public string Name => "storm";

    public string Usage => "storm [--calls 10000] [--rounds 10] [--warmup-rounds 1] [--max-calls 10000] [--connections 256]";

    public string Description =>
        "N concurrent GETs of /secure with a valid token vs the same N right after the token expired (calls sent with it get 401, one refresh must serve all); " +
        "refreshes per storm, failures, reuse events and the storm/valid wall-time ratio.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = StormOptions.Read(args, []);
        var command = RunInfo.Command(Name, o.CommandOptions());

        await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
        using var control = new SandboxControl(sandbox.BaseAddress);
        var url = new Uri(sandbox.BaseAddress, StormRounds.Path);
        Console.Error.WriteLine($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; target {url}");

        var login = await control.IssueTokensAsync(cancellationToken);
        await using var runtime = StormTarget.StartSingle("1 runtime", StormTarget.Options(sandbox.BaseAddress, login, o.MaxCalls, o.Connections));
        var results = await StormRounds.RunAsync([runtime], control, url, o.Calls, o.Rounds, o.WarmupRounds, cancellationToken);

        RunInfo.PrintHeader(command);
        Console.WriteLine(StormRounds.Table(results));
        Console.WriteLine(o.Legend(url, "one runtime (`HttpRuntime.Start`, its own ActorSystem)"));
        return PrintErrors(results);
    }

    /// <summary>
    /// Lists the failed calls and the rounds that broke a storm guarantee (a storm without exactly one refresh, a refresh
    /// during a valid batch, a reuse event) under the table; 1 if there were any.
    /// </summary>
    public static int PrintErrors(StormRounds.Results[] results)
    {
        var errors = StormRounds.Errors(results).ToArray();
        var broken = results.SelectMany(r => r.Storm.Select((b, i) => (r, i, kind: "storm", b, expected: 1L))
                .Concat(r.Valid.Select((b, i) => (r, i, kind: "valid", b, expected: 0L))))
            .Where(x => x.b.Server.RefreshesPerformed != x.expected || x.b.Server.ReuseEvents != 0)
            .Select(x => $"{x.r.Target.Name}, round {x.i + 1}, {x.kind}: {x.b.Server.RefreshesPerformed} refreshes (expected {x.expected}), {x.b.Server.ReuseEvents} reuse events")
            .ToArray();
        if (errors.Length == 0 && broken.Length == 0) return 0;
        foreach (var (title, lines) in new[] { ("**Failures** (must be 0):", errors), ("**Refresh guarantees broken** (exactly one refresh per storm, none per valid batch, no reuse):", broken) })
        {
            if (lines.Length == 0) continue;
            Console.WriteLine();
            Console.WriteLine(title);
            Console.WriteLine();
            foreach (var line in lines) Console.WriteLine($"- {line}");
        }
        return 1;
    }
}

/// <summary>The options <c>storm</c> and <c>cluster-storm</c> share.</summary>
internal sealed record StormOptions(ArgReader Args, int Calls, int Rounds, int WarmupRounds, int MaxCalls, int Connections)
{
    public static StormOptions Read(string[] args, string[] more)
    {
        var reader = new ArgReader(args, ["calls", "rounds", "warmup-rounds", "max-calls", "connections", .. more]);
        var calls = reader.Int("calls", 10_000);
        return new StormOptions(reader, calls, reader.Int("rounds", 10), reader.Int("warmup-rounds", 1, min: 0),
            reader.Int("max-calls", calls), reader.Int("connections", 256));
    }

    public (string, string)[] CommandOptions() =>
    [
        ("calls", I(Calls)), ("rounds", I(Rounds)), ("warmup-rounds", I(WarmupRounds)), ("max-calls", I(MaxCalls)), ("connections", I(Connections)),
    ];

    public string Legend(Uri url, string runtimes) =>
        $"""
        Each row: median of {Rounds} rounds (after {WarmupRounds} untimed) of {Calls:N0} GETs of `{url.AbsolutePath}` started at once (server: Sandbox,
        a separate process), through {runtimes}. Per round and runtime: one untimed call per node (so every node holds a valid
        token), the *valid* batch, then the *storm* batch started right after `POST /_sandbox/auth/expire` (every access token issued
        so far is expired from then on). MaxConcurrentCalls = {MaxCalls:N0} (the whole batch in flight at once, nothing queued in the
        runtime), MaxConnectionsPerServer = {Connections} (requests beyond that wait in SocketsHttpHandler's pool); token requests
        go through their own client. Refresh endpoint: `/auth/refresh` (JSON), rotating refresh tokens with reuse detection.
        *wall ms*: first call started to last call done. *spread*: (max - min) / median of wall ms over the rounds.
        *401s/round*, *refreshes/round*, *reuse events*: the Sandbox's own counters (`GET /_sandbox/auth/stats`) around each batch
        (median / min–max / sum over the rounds): calls refused for an expired token, refreshes it performed, rotated refresh tokens
        presented again. *refreshed after ms*: from the batch's start to the `TokenRefreshed` event of the runtime (with several nodes:
        to the first / the last node's), median over the rounds. *failures*: calls that did not end in 200, all rounds.
        *storm/valid*: median over the rounds of the storm's wall time / the valid batch's of the same round.
        """;

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);
}
