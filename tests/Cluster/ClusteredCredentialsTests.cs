using Courier.Auth;
using Courier.Errors;
using Courier.Requests;
using Courier.Sandbox;

namespace Courier.Tests.Cluster;

/// <summary>
/// Three ActorSystems joined into one cluster on 127.0.0.1, sharing one credential against the Sandbox's authorization
/// server, which rotates refresh tokens and revokes the whole family when one is used twice: a second refresh of the
/// same generation anywhere in the cluster shows up as a reuse event and failed calls.
/// </summary>
/// <remarks>Filter with <c>--filter "FullyQualifiedName~Courier.Tests.Cluster"</c>.</remarks>
[Collection(nameof(ClusteredCredentialsTests))] // one cluster at a time: the machine has two cores
public sealed class ClusteredCredentialsTests(ITestOutputHelper output)
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(20);

    [Fact]
    public async Task Three_nodes_with_300_concurrent_calls_each_refresh_once_for_the_cluster_when_the_token_expires()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server);
        var failures = 0;
        var errors = new List<string>();

        server.Auth.ExpireAccessTokens();
        var calls = cluster.Nodes.SelectMany(node => Enumerable.Range(0, 300).Select(async i =>
        {
            try
            {
                using var response = await node.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, $"/secure/orders/{node.Index}-{i}")));
            }
            catch (HttpCallException ex)
            {
                Interlocked.Increment(ref failures);
                lock (errors) errors.Add(ex.Message);
            }
        }));
        await Task.WhenAll(calls).WaitAsync(StepTimeout);

        Assert.True(failures == 0, string.Join(Environment.NewLine, errors.Take(5)));
        Assert.Equal(0, server.Auth.ReuseEvents);
        Assert.Equal(1, server.Auth.RefreshesPerformed);
        foreach (var node in cluster.Nodes)
            Assert.Equal(2, (await node.Client.GetTokenStatusAsync()).Generation);
    }

    [Fact]
    public async Task The_owner_leaving_gracefully_hands_over_and_the_next_expiry_is_refreshed_once_by_the_new_owner()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server);
        await using var traffic = SteadyTraffic.Start(cluster.Nodes, new Uri(server.BaseAddress, "/secure/steady"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (owner, survivors) = await RefreshOnceAsync(cluster, traffic, expectedGeneration: 2, cancel.Token);
        output.WriteLine($"owner: node {owner.Index}; leaving gracefully");
        await owner.LeaveAsync().WaitAsync(StepTimeout);

        var (next, status) = await cluster.FindOwnerAsync(survivors[0], s => s.State == "Ready" && s.Node != owner.Address);
        output.WriteLine($"new owner: node {next.Index} at generation {status.Generation}");
        Assert.Equal(2, status.Generation);
        await traffic.MoreSuccessesAsync(survivors, 20, cancel.Token); // calls continue after the hand-over

        await SecondRefreshServesEverySurvivorAsync(cluster, traffic, survivors, cancel.Token);
    }

    [Fact]
    public async Task An_expiry_during_a_graceful_hand_over_keeps_the_calls_waiting_and_is_refreshed_once()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server);
        await using var traffic = SteadyTraffic.Start(cluster.Nodes, new Uri(server.BaseAddress, "/secure/steady"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (owner, survivors) = await RefreshOnceAsync(cluster, traffic, expectedGeneration: 2, cancel.Token);
        var leaving = owner.LeaveAsync();
        server.Auth.ExpireAccessTokens(); // the requests reach the leaving owner (which finishes before it stops) or the next one
        await leaving.WaitAsync(StepTimeout);

        var (next, status) = await cluster.FindOwnerAsync(survivors[0], s => s.State == "Ready" && s.Node != owner.Address && s.Generation >= 3);
        output.WriteLine($"owner: node {owner.Index}, new owner: node {next.Index} at generation {status.Generation}");
        await traffic.MoreSuccessesAsync(survivors, 20, cancel.Token);
        await traffic.StopAsync();

        Assert.Equal(3, status.Generation);
        foreach (var node in survivors)
        {
            Assert.True(traffic.Failures(node.Index) == 0, traffic.Errors);
            Assert.Equal(3, (await node.Client.GetTokenStatusAsync()).Generation);
        }
        Assert.Equal(0, server.Auth.ReuseEvents);
        Assert.Equal(2, server.Auth.RefreshesPerformed);
    }

    [Fact]
    public async Task The_owner_stopped_abruptly_is_replaced_by_one_that_recovers_the_pair_from_the_replicas()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server);
        await using var traffic = SteadyTraffic.Start(cluster.Nodes, new Uri(server.BaseAddress, "/secure/steady"));
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        var (owner, survivors) = await RefreshOnceAsync(cluster, traffic, expectedGeneration: 2, cancel.Token);
        output.WriteLine($"owner: node {owner.Index}; stopping it without leaving");
        await owner.KillAsync().WaitAsync(StepTimeout);

        // The survivors down it (split-brain resolver, keep-majority) and the oldest of them starts a new owner, which
        // reads the register from a majority: it must continue from generation 2, with the rotated refresh token.
        var (next, status) = await cluster.FindOwnerAsync(survivors[0], s => s.State == "Ready" && s.Node != owner.Address, TimeSpan.FromSeconds(30));
        output.WriteLine($"new owner: node {next.Index} at generation {status.Generation}");
        Assert.Equal(2, status.Generation);
        Assert.Equal(0, status.Refreshes);
        await traffic.MoreSuccessesAsync(survivors, 20, cancel.Token);

        await SecondRefreshServesEverySurvivorAsync(cluster, traffic, survivors, cancel.Token);
    }

    [Fact]
    public async Task A_refused_refresh_token_signs_every_node_out_and_publishes_AuthenticationFailed_once_on_each()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server);
        var published = cluster.Nodes.Select(node =>
        {
            var seen = new AuthenticationFailedCounter();
            node.System.EventStream.Subscribe(node.System.ActorOf(Props.Create(() => new ForwardTo<AuthenticationFailed>(seen.Add))), typeof(AuthenticationFailed));
            return seen;
        }).ToList();

        server.Auth.RevokeAll();
        // One node's call triggers the refresh; the refusal reaches the others through the register.
        await Assert.ThrowsAsync<AuthenticationFailedException>(() => cluster.Nodes[1].Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, "/secure/x"))));
        await Task.WhenAll(published.Select(p => p.First)).WaitAsync(StepTimeout);
        foreach (var node in cluster.Nodes)
        {
            await Assert.ThrowsAsync<AuthenticationFailedException>(() => node.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, "/secure/y"))));
            Assert.Equal("SignedOut", (await node.Client.GetTokenStatusAsync()).State);
        }

        Assert.All(published, p => Assert.Equal(1, p.Count));
        Assert.Equal(0, server.Auth.ReuseEvents);
        Assert.Equal(0, server.Auth.RefreshesPerformed);
    }

    [Fact]
    public async Task Issue9_6_the_owner_uses_a_token_already_expired_on_arrival_until_it_is_refused_instead_of_refreshing_again()
    {
        await using var server = await SandboxServer.StartAsync();
        var refresher = new ControlledRefresher
        {
            // expires_in 0 (or a JWT exp behind this clock): expired on arrival.
            AutoAnswer = n => new TokenRefreshResult.Refreshed("token-" + (n + 1), "refresh-" + (n + 1), TimeSpan.Zero),
        };
        await using var cluster = await ClusterTestNodes.StartAsync(server, count: 1, configure: o => o.Auth!.Refresher = refresher);
        var tokens = cluster.Nodes[0].Actors.Tokens!;

        var refreshed = await tokens.Ask<TokenGranted>(new TokenRejected(1, 1), StepTimeout);
        Assert.Equal(("token-2", 2L), (refreshed.AccessToken, refreshed.Generation));
        var next = await tokens.Ask<TokenGranted>(new GetToken(2), StepTimeout);

        Assert.Equal(("token-2", 2L), (next.AccessToken, next.Generation));
        Assert.Equal(1, refresher.Calls);
        Assert.Null((await cluster.Nodes[0].Client.GetTokenStatusAsync()).ExpiresAt);
    }

    /// <summary>
    /// Expires the access tokens under the running traffic and waits until the owner has refreshed to
    /// <paramref name="expectedGeneration"/> and every running node has made calls with it.
    /// </summary>
    private async Task<(ClusterTestNodes.Node Owner, List<ClusterTestNodes.Node> Others)> RefreshOnceAsync(ClusterTestNodes cluster,
        SteadyTraffic traffic, long expectedGeneration, CancellationToken cancellationToken)
    {
        var running = cluster.Running.ToList();
        await traffic.MoreSuccessesAsync(running, 10, cancellationToken);
        cluster.Server.Auth.ExpireAccessTokens();
        var (owner, status) = await cluster.FindOwnerAsync(running[0], s => s.Generation >= expectedGeneration);
        Assert.Equal(expectedGeneration, status.Generation);
        await traffic.MoreSuccessesAsync(running, 20, cancellationToken);
        foreach (var node in running)
            Assert.Equal(expectedGeneration, (await node.Client.GetTokenStatusAsync(cancellationToken)).Generation);
        Assert.Equal(expectedGeneration - 1, cluster.Server.Auth.RefreshesPerformed);
        return (owner, running.Where(n => n != owner).ToList());
    }

    /// <summary>
    /// After a hand-over: a second expiry is refreshed once, to generation 3; then no call of a survivor failed, no
    /// refresh token was used twice, and the authorization server performed two refreshes in all.
    /// </summary>
    private async Task SecondRefreshServesEverySurvivorAsync(ClusterTestNodes cluster, SteadyTraffic traffic, List<ClusterTestNodes.Node> survivors,
        CancellationToken cancellationToken)
    {
        await RefreshOnceAsync(cluster, traffic, expectedGeneration: 3, cancellationToken);
        await traffic.StopAsync();

        foreach (var node in survivors) Assert.True(traffic.Failures(node.Index) == 0, traffic.Errors);
        Assert.Equal(0, cluster.Server.Auth.ReuseEvents);
        Assert.Equal(2, cluster.Server.Auth.RefreshesPerformed);
    }

    private sealed class AuthenticationFailedCounter
    {
        private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _count;

        public int Count => Volatile.Read(ref _count);

        public Task First => _first.Task;

        public void Add(AuthenticationFailed _)
        {
            Interlocked.Increment(ref _count);
            _first.TrySetResult();
        }
    }

    private sealed class ForwardTo<T> : ReceiveActor
    {
        public ForwardTo(Action<T> action) => Receive<T>(action);
    }
}
