namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>cluster-storm</c>: the refresh storm of <c>storm</c> on N clustered nodes in this process (Courier.Cluster: one
/// credential owner, the pair replicated), side by side with the single runtime in the same rounds.
/// </summary>
internal sealed class ClusterStormScenario : IScenario
{
    public string Name => "cluster-storm";

    public string Usage => "cluster-storm [--calls 10000] [--rounds 10] [--warmup-rounds 1] [--max-calls 10000] [--connections 256] [--nodes 3]";

    public string Description =>
        "the storm scenario on N clustered nodes (calls spread over the nodes) vs one runtime, interleaved: " +
        "refreshes per storm (one for the cluster), failures, reuse events, wall-time ratio N nodes / 1 runtime.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var o = StormOptions.Read(args, ["nodes"]);
        var nodes = o.Args.Int("nodes", 3);
        var command = RunInfo.Command(Name, [.. o.CommandOptions(), ("nodes", nodes.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

        await using var sandbox = await SandboxProcess.StartAsync(cancellationToken);
        using var control = new SandboxControl(sandbox.BaseAddress);
        var url = new Uri(sandbox.BaseAddress, StormRounds.Path);
        Console.Error.WriteLine($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; target {url}");

        // One login each: the two must not share a refresh-token family (one's rotation would be the other's reuse).
        await using var single = StormTarget.StartSingle("1 runtime",
            StormTarget.Options(sandbox.BaseAddress, await control.IssueTokensAsync(cancellationToken), o.MaxCalls, o.Connections));
        // Each node gets the same options (a node's in-flight cap and connection limit are its own).
        var cluster = await ClusterNodes.StartAsync(nodes,
            StormTarget.Options(sandbox.BaseAddress, await control.IssueTokensAsync(cancellationToken), o.MaxCalls, o.Connections), cancellationToken);
        await using var clustered = new StormTarget($"{nodes} nodes", cluster.Clients, cluster.Systems, cluster.DisposeAsync);
        Console.Error.WriteLine($"{nodes} nodes joined and serving the shared pair");

        var results = await StormRounds.RunAsync([single, clustered], control, url, o.Calls, o.Rounds, o.WarmupRounds, cancellationToken);

        RunInfo.PrintHeader(command);
        Console.WriteLine(StormRounds.Table(results));
        Console.WriteLine(o.Legend(url,
            $"(1) one runtime (`HttpRuntime.Start`) and (2) {nodes} ActorSystems in this process joined into a cluster on 127.0.0.1 " +
            $"(`ClusteredHttpRuntime.StartActors` on each; the calls go to the nodes in turn, {o.Calls / nodes:N0}+ each), interleaved: " +
            "each round runs both, in an order that alternates"));
        Console.WriteLine($"*vs 1 runtime*: median over the rounds of the row's wall time / the single runtime's same batch in the same round.");
        return StormScenario.PrintErrors(results);
    }
}
