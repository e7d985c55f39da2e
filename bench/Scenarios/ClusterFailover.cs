using System.Diagnostics;
using System.Globalization;
using Courier.Tests.Cluster;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>cluster-storm</c>'s failover rows: three cluster nodes as separate processes (tests/ClusterNode, with the settings
/// docs/scaling-out.md recommends: split-brain resolver keep-majority, <c>stable-after = 5s</c>) against the bench's
/// Sandbox. A storm is K calls started at once, spread over the calling nodes, right after the Sandbox expired every
/// access token (so every node needs the owner's refresh). Steady storms run on the three nodes; then one storm runs on
/// the two other nodes while the owner's node (the oldest, the first started) is killed with SIGKILL at its start: its
/// calls wait through the owner-less gap (failure detection, downing, hand-over) for the new owner's refresh.
/// </summary>
internal static class ClusterFailover
{
    /// <summary>One storm: its wall time (from the expiry to the last node's answer), the calls' outcome, the server's counters.</summary>
    public sealed record Storm(string Kind, int Calls, TimeSpan Wall, long Ok, long Failed, AuthStats Server, string Errors);

    public static async Task<List<Storm>> RunAsync(Uri sandbox, SandboxControl control, int calls, int steadyStorms, int rounds,
        CancellationToken cancellationToken)
    {
        NodeProcess.NodeAssembly = await ChildProcess.LocateOrBuildAsync("ClusterNode", cancellationToken).ConfigureAwait(false);
        // The nodes log membership and hand-over at INFO in the tests; here only warnings, to keep their CPU for the calls.
        if (Environment.GetEnvironmentVariable("COURIER_NODE_LOGLEVEL") is null) Environment.SetEnvironmentVariable("COURIER_NODE_LOGLEVEL", "WARNING");
        var storms = new List<Storm>();
        for (var round = 0; round < rounds; round++)
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(5));
            var nodes = await StartFleetAsync(sandbox, control, timeout.Token).ConfigureAwait(false);
            try
            {
                Console.Error.WriteLine($"failover round {round + 1}/{rounds}: 3 node processes (pids {string.Join(", ", nodes.Select(n => n.ProcessId))}) joined");
                for (var s = 0; s < steadyStorms; s++)
                    storms.Add(Report(await StormAsync("steady", nodes, kill: null, calls, control, timeout.Token).ConfigureAwait(false)));
                storms.Add(Report(await StormAsync("owner killed", nodes[1..], kill: nodes[0], calls, control, timeout.Token).ConfigureAwait(false)));
            }
            finally
            {
                await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask())).ConfigureAwait(false);
            }
        }
        return storms;

        static Storm Report(Storm s)
        {
            Console.Error.WriteLine($"  {s.Kind,-13} {s.Calls} calls: {s.Wall.TotalMilliseconds,9:0.0} ms  ok {s.Ok}  failed {s.Failed}  " +
                $"refreshes {s.Server.RefreshesPerformed}  reuse {s.Server.ReuseEvents}  401s {s.Server.RejectedExpired}");
            return s;
        }
    }

    /// <summary>The table: per kind, the median wall time over its storms, and the failed calls, refreshes and reuse events of all of them.</summary>
    public static MarkdownTable Table(List<Storm> storms)
    {
        var table = new MarkdownTable("storm on 3 node processes", ">storms", ">calls each", ">wall ms (median)", ">wall ms (each)", ">failed calls",
            ">refreshes/storm", ">reuse events");
        foreach (var group in storms.GroupBy(s => s.Kind))
        {
            var list = group.ToList();
            table.AddRow(
                group.Key == "steady" ? "steady (3 nodes call)" : "owner's node killed at the start (2 nodes call)",
                list.Count.ToString(CultureInfo.InvariantCulture),
                list[0].Calls.ToString("N0", CultureInfo.InvariantCulture),
                Stats.Median(list.Select(s => s.Wall.TotalMilliseconds)).ToString("N0", CultureInfo.InvariantCulture),
                string.Join(", ", list.Select(s => s.Wall.TotalMilliseconds.ToString("N0", CultureInfo.InvariantCulture))),
                list.Sum(s => s.Failed).ToString(CultureInfo.InvariantCulture),
                string.Join(", ", list.Select(s => s.Server.RefreshesPerformed).Distinct().Order()),
                list.Sum(s => s.Server.ReuseEvents).ToString(CultureInfo.InvariantCulture));
        }
        return table;
    }

    private static async Task<NodeProcess[]> StartFleetAsync(Uri sandbox, SandboxControl control, CancellationToken cancellationToken)
    {
        var login = await control.IssueTokensAsync(cancellationToken).ConfigureAwait(false);
        var nodes = new List<NodeProcess>();
        try
        {
            var seed = await NodeProcess.StartAsync(0, sandbox, login.AccessToken, login.RefreshToken!, "self", cancellationToken).ConfigureAwait(false);
            nodes.Add(seed);
            await seed.ReadyAsync(cancellationToken).ConfigureAwait(false); // the oldest node: it holds the owner
            nodes.AddRange(await Task.WhenAll(Enumerable.Range(1, 2).Select(i =>
                NodeProcess.StartAsync(i, sandbox, login.AccessToken, login.RefreshToken!, seed.Address, cancellationToken))).ConfigureAwait(false));
            await Task.WhenAll(nodes.Skip(1).Select(n => n.ReadyAsync(cancellationToken))).ConfigureAwait(false);
            return [.. nodes];
        }
        catch
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask())).ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Expires every access token, kills <paramref name="kill"/> if given, starts the calls on <paramref name="callers"/> and waits for all of them.</summary>
    private static async Task<Storm> StormAsync(string kind, NodeProcess[] callers, NodeProcess? kill, int calls, SandboxControl control,
        CancellationToken cancellationToken)
    {
        var before = await control.GetAuthStatsAsync(cancellationToken).ConfigureAwait(false);
        await control.ExpireAccessTokensAsync(cancellationToken).ConfigureAwait(false);
        var started = Stopwatch.GetTimestamp();
        kill?.Kill();
        var each = calls / callers.Length;
        foreach (var node in callers) await node.StormAsync(each).ConfigureAwait(false);
        var results = await Task.WhenAll(callers.Select(n => n.ResultAsync(cancellationToken))).ConfigureAwait(false);
        var wall = Stopwatch.GetElapsedTime(started);
        var after = await control.GetAuthStatsAsync(cancellationToken).ConfigureAwait(false);
        var errors = string.Join("; ", results.Select(r => r.Errors).Where(e => e.Length > 0)).ReplaceLineEndings(" ");
        return new Storm(kind, each * callers.Length, wall, results.Sum(r => r.Ok), results.Sum(r => r.Failed), after - before, errors);
    }
}
