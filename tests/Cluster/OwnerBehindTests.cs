using Courier.Auth;
using Courier.Cluster;
using Courier.Sandbox;

namespace Courier.Tests.Cluster;

/// <summary>
/// An owner whose register is behind what a node holds (an earlier owner's majority write reached fewer replicas than the
/// cluster has now: seen with three processes when the owner's process was killed soon after the cluster formed).
/// </summary>
[Collection(nameof(ClusteredCredentialsTests))]
public sealed class OwnerBehindTests
{
    [Fact]
    public async Task An_owner_behind_a_nodes_pair_continues_from_it_instead_of_failing_the_calls_or_reusing_an_old_refresh_token()
    {
        await using var server = await SandboxServer.StartAsync();
        await using var cluster = await ClusterTestNodes.StartAsync(server, count: 1);
        var node = cluster.Nodes[0];
        var (_, status) = await cluster.FindOwnerAsync(node);
        Assert.Equal(1, status.Generation);

        // The node holds generation 5, a pair the owner's register never saw (its own refresh token is still the one of
        // generation 1; were it rotated away at the server, refreshing with it would be a reuse).
        var (access, refresh, _) = server.Auth.IssueTokens();
        var known = new CredentialRecord(5, new TokenPair(access, refresh, null), null, false, "rejected", 1);
        var answer = await node.OwnerProxy.Ask<object>(new RefreshCredentials(5, "rejected", known), TimeSpan.FromSeconds(20));

        var updated = Assert.IsType<CredentialsUpdated>(answer);
        Assert.Equal(6, updated.Record.Generation);
        Assert.NotNull(updated.Record.Credentials);
        Assert.Equal(1, server.Auth.RefreshesPerformed); // refreshed once, with the node's refresh token
        Assert.Equal(0, server.Auth.ReuseEvents);
    }
}
