using Courier.Sandbox;

namespace Courier.Tests.Cluster;

/// <summary>
/// Three node processes (<c>Courier.ClusterNode</c>) on 127.0.0.1 sharing one rotating credential against the Sandbox's
/// authorization server (2 s access tokens, rotation with reuse detection), with the cluster settings that
/// docs/scaling-out.md recommends. The owner of the credentials runs on the oldest node, the first one started.
/// </summary>
[Collection(nameof(ClusteredCredentialsTests))]
public sealed class MultiProcessClusterTests
{
    private static readonly TimeSpan TokenLifetime = TimeSpan.FromSeconds(2);

    [Fact]
    public async Task Steady_traffic_on_three_processes_fails_no_call_reuses_no_refresh_token_and_refreshes_about_once_per_expiry()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxOptions { Auth = { AccessTokenLifetime = TokenLifetime } });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(90));
        var nodes = await StartFleetAsync(server, cancel.Token);
        try
        {
            await AssertSteadyTrafficAsync(server, nodes, TimeSpan.FromSeconds(8), cancel.Token);
        }
        finally
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    // Issue 14: static seed nodes do not survive a rolling deploy; Akka.Management's Cluster Bootstrap finds the nodes
    // through discovery. Three processes started at once, none told of a seed: each is given the three management
    // endpoints (config discovery, Courier:Cluster:Bootstrap) and required-contact-point-nr 3.
    [Fact]
    public async Task Three_processes_join_through_Cluster_Bootstrap_with_config_discovery_and_share_one_credential()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxOptions { Auth = { AccessTokenLifetime = TokenLifetime } });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(120));
        var (access, refresh, _) = server.Auth.IssueTokens();
        var ports = LoopbackPorts.Free(3);
        var contactPoints = ports.Select(p => $"127.0.0.1:{p}").ToArray();
        var nodes = new List<NodeProcess>();
        try
        {
            foreach (var (port, index) in ports.Select((p, i) => (p, i)))
                nodes.Add(await NodeProcess.StartWithBootstrapAsync(index, server.BaseAddress, access, refresh, contactPoints, port, cancel.Token));
            await Task.WhenAll(nodes.Select(n => n.ReadyAsync(cancel.Token)));

            // One cluster of three, not three clusters of one: every node sees the same three Up members.
            var addresses = nodes.Select(n => n.Address).Order(StringComparer.Ordinal).ToArray();
            var seen = new IReadOnlyList<string>[nodes.Count];
            using (var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(200)))
            {
                do
                {
                    for (var i = 0; i < nodes.Count; i++) seen[i] = await nodes[i].MembersAsync(cancel.Token);
                }
                while (!seen.All(s => s.SequenceEqual(addresses)) && await tick.WaitForNextTickAsync(cancel.Token));
            }
            Assert.All(seen, members => Assert.Equal(addresses, members));

            // The credential is the fleet's: one refresh per expiry for the three, no reuse, no failed call.
            await AssertSteadyTrafficAsync(server, [.. nodes], TimeSpan.FromSeconds(6), cancel.Token);
        }
        finally
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    /// <summary>
    /// Runs paced traffic on every node and checks: no failed call, no reuse, and one refresh per token lifetime for the
    /// whole fleet, never one per node.
    /// </summary>
    private static async Task AssertSteadyTrafficAsync(SandboxServer server, NodeProcess[] nodes, TimeSpan duration, CancellationToken cancellationToken)
    {
        server.Auth.ResetCounters();
        var started = DateTimeOffset.UtcNow;
        foreach (var node in nodes) await node.GoAsync(duration, workers: 8);
        var results = await Task.WhenAll(nodes.Select(n => n.ResultAsync(cancellationToken)));
        var elapsed = DateTimeOffset.UtcNow - started;

        foreach (var (result, node) in results.Zip(nodes))
        {
            Assert.True(result.Failed == 0, $"node {node.Index}: {result.Failed} failed call(s){Environment.NewLine}{result.Errors}");
            Assert.True(result.Ok > 0, $"node {node.Index} made no call{Environment.NewLine}{node.Log}");
        }
        Assert.Equal(0, server.Auth.ReuseEvents);
        // The owner refreshes ahead of expiry, at 80 % of the lifetime (ProactiveRefreshFraction 0.2), so a run of E
        // seconds sees about E / 1.6 s of them (+1 for one that the timing splits). Three nodes each refreshing on their
        // own would make three times as many.
        var lifetimes = (long)Math.Ceiling(elapsed / (TokenLifetime * 0.8));
        Assert.InRange(server.Auth.RefreshesPerformed, 1, lifetimes + 1);
    }

    [Fact]
    public async Task Killing_the_owners_process_mid_run_fails_no_call_on_the_other_nodes_and_reuses_no_refresh_token()
    {
        // 6 s tokens: a refresh starts every 4.8 s, so a kill right after one landed is far from the next even when this
        // process is slow to see it (with 2 s tokens and refreshes that took up to 360 ms under load, a kill 400 ms after
        // the survivors adopted a pair still hit the next refresh). They expire within the owner-less gap (about 15 s):
        // the calls still wait for the new owner's refresh.
        await using var server = await SandboxServer.StartAsync(new SandboxOptions { Auth = { AccessTokenLifetime = TimeSpan.FromSeconds(6) } });
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(150));
        var nodes = await StartFleetAsync(server, cancel.Token);
        try
        {
            var owner = nodes[0];
            var survivors = nodes.Skip(1).ToArray();
            // Long enough to cover the owner-less gap of the recommended settings (about 15 s) and calls after it.
            foreach (var node in nodes) await node.GoAsync(TimeSpan.FromSeconds(30), workers: 8);

            // Kill once traffic runs on every node, right after a refresh reached both other nodes: between two refreshes.
            // A kill while the owner's refresh is in flight (the token endpoint rotated, the new pair not yet written) is
            // the window docs/scaling-out.md says no client can close: the new owner presents the spent refresh token and
            // reuse detection revokes the family. Killed at a random moment, 2 of 6 runs landed in it on a loaded machine
            // (the owner's refresh took over 70 ms; with 2 s tokens a refresh starts every 1.6 s); killed right after a
            // refresh with 2 s tokens, 1 of 6 still did.
            await WaitUntilAsync(() => survivors.All(n => n.ReportedSuccesses >= 50) && server.Auth.RefreshesPerformed >= 1, cancel.Token);
            var adopted = survivors.Min(n => n.Generation);
            await WaitUntilAsync(() => survivors.All(n => n.Generation > adopted), cancel.Token);
            var refreshesBeforeKill = server.Auth.RefreshesPerformed;
            owner.Kill();

            var results = await Task.WhenAll(survivors.Select(n => n.ResultAsync(cancel.Token)));
            foreach (var node in nodes) node.SaveLog(Path.Combine(Path.GetTempPath(), $"courier-failover-{Environment.ProcessId}-node-{node.Index}.log"));
            foreach (var (result, node) in results.Zip(survivors))
                Assert.True(result.Failed == 0, $"node {node.Index}: {result.Failed} failed call(s){Environment.NewLine}{result.Errors}{Environment.NewLine}{node.Log}");
            Assert.Equal(0, server.Auth.ReuseEvents);
            // The new owner took over: tokens kept being refreshed after the kill.
            Assert.True(server.Auth.RefreshesPerformed > refreshesBeforeKill, "no refresh after the owner's node was killed");
        }
        finally
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
        }
    }

    private static async Task<NodeProcess[]> StartFleetAsync(SandboxServer server, CancellationToken cancellationToken)
    {
        var (access, refresh, _) = server.Auth.IssueTokens();
        var nodes = new List<NodeProcess>();
        try
        {
            var seed = await NodeProcess.StartAsync(0, server.BaseAddress, access, refresh, "self", cancellationToken);
            nodes.Add(seed);
            await seed.ReadyAsync(cancellationToken); // the oldest node: it holds the owner
            nodes.AddRange(await Task.WhenAll(Enumerable.Range(1, 2).Select(i =>
                NodeProcess.StartAsync(i, server.BaseAddress, access, refresh, seed.Address, cancellationToken))));
            await Task.WhenAll(nodes.Skip(1).Select(n => n.ReadyAsync(cancellationToken)));
            return [.. nodes];
        }
        catch
        {
            await Task.WhenAll(nodes.Select(n => n.DisposeAsync().AsTask()));
            throw;
        }
    }

    /// <summary>Polls a condition fed by the nodes' progress lines (every 250 ms); no fixed sleep decides the outcome.</summary>
    private static async Task WaitUntilAsync(Func<bool> condition, CancellationToken cancellationToken)
    {
        using var tick = new PeriodicTimer(TimeSpan.FromMilliseconds(50));
        while (!condition()) await tick.WaitForNextTickAsync(cancellationToken);
    }
}
