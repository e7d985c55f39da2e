namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>cluster-storm</c>: the refresh storm of <c>storm</c> on N clustered nodes in this process (Courier.Cluster: one
/// credential owner, the pair replicated), side by side with the single runtime in the same rounds.
/// </summary>
internal sealed class ClusterStormScenario : IScenario
{
    public string Name => "cluster-storm";

    public string Usage => "cluster-storm [--calls 10000] [--rounds 10] [--warmup-rounds 1] [--max-calls 10000] [--connections 256] [--nodes 3] " +
        "[--failover-rounds 1] [--failover-steady 3]";

    public string Description =>
        "the storm scenario on N clustered nodes (calls spread over the nodes) vs one runtime, interleaved: " +
        "refreshes per storm (one for the cluster), failures, reuse events, wall-time ratio N nodes / 1 runtime; then the failover rows: " +
        "storms on 3 node processes, steady and with the owner's process killed (SIGKILL) at the storm's start: wall time, failed calls.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = StormOptions.Read(args, ["nodes", "failover-rounds", "failover-steady"]);
        var nodes = o.Args.Int("nodes", 3);
        var failoverRounds = o.Args.Int("failover-rounds", 1, min: 0);
        var failoverSteady = o.Args.Int("failover-steady", 3);
        var command = RunInfo.Command(Name, [.. o.CommandOptions(), ("nodes", I(nodes)), ("failover-rounds", I(failoverRounds)), ("failover-steady", I(failoverSteady))]);

        await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
        using var control = new SandboxControl(sandbox.BaseAddress);
        var url = new Uri(sandbox.BaseAddress, StormRounds.Path);
        Console.Error.WriteLine($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; target {url}");

        StormRounds.Results[] results;
        // The in-process nodes stop before the node processes start: they would share the two cores with them.
        {
            // One login each: the two must not share a refresh-token family (one's rotation would be the other's reuse).
            await using var single = StormTarget.StartSingle("1 runtime",
                StormTarget.Options(sandbox.BaseAddress, await control.IssueTokensAsync(cancellationToken), o.MaxCalls, o.Connections));
            // Each node gets the same options (a node's in-flight cap and connection limit are its own).
            var cluster = await ClusterNodes.StartAsync(nodes,
                StormTarget.Options(sandbox.BaseAddress, await control.IssueTokensAsync(cancellationToken), o.MaxCalls, o.Connections), cancellationToken);
            await using var clustered = new StormTarget($"{nodes} nodes", cluster.Clients, cluster.Systems, cluster.DisposeAsync);
            Console.Error.WriteLine($"{nodes} nodes joined and serving the shared pair");

            results = await StormRounds.RunAsync([single, clustered], control, url, o.Calls, o.Rounds, o.WarmupRounds, cancellationToken);
        }
        var failover = failoverRounds == 0 ? []
            : await ClusterFailover.RunAsync(sandbox.BaseAddress, control, o.Calls, failoverSteady, failoverRounds, cancellationToken);

        RunInfo.PrintHeader(command);
        Console.WriteLine(StormRounds.Table(results));
        Console.WriteLine(o.Legend(url,
            $"(1) one runtime (`HttpRuntime.Start`) and (2) {nodes} ActorSystems in this process joined into a cluster on 127.0.0.1 " +
            $"(`ClusteredHttpRuntime.StartActors` on each; the calls go to the nodes in turn, {o.Calls / nodes:N0}+ each), interleaved: " +
            "each round runs both, in an order that alternates"));
        Console.WriteLine($"*vs 1 runtime*: median over the rounds of the row's wall time / the single runtime's same batch in the same round.");
        if (failover.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine(ClusterFailover.Table(failover));
            Console.WriteLine($"""
                Failover: {failoverRounds} fleet(s) of 3 node processes (tests/ClusterNode: split-brain resolver keep-majority, stable-after = 5s,
                RefreshTimeout 30 s, MaxConcurrentCalls 256; one login per fleet). Per fleet: {failoverSteady} *steady* storms on the 3 nodes, then one storm on
                the 2 others during which the owner's process (the oldest node) is killed with SIGKILL at the storm's start. A storm: `POST
                /_sandbox/auth/expire`, then {o.Calls:N0} GETs of `/secure/storm` started at once, split evenly over the calling nodes.
                *wall ms*: from the expiry to the last calling node's answer. *failed calls*: calls that did not end in 200.
                """);
            foreach (var s in failover.Where(s => s.Errors.Length > 0)) Console.WriteLine($"- {s.Kind}: {s.Errors}");
        }
        var failoverBroken = failover.Any(s => s.Failed > 0 || s.Server.ReuseEvents > 0) ? 1 : 0;
        return Math.Max(StormScenario.PrintErrors(results), failoverBroken);
    }

    private static string I(int value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
