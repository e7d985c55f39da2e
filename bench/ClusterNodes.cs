using Akka.Actor;
using Akka.Configuration;
using Courier.Auth;
using Courier.Cluster;

namespace Courier.Bench;

/// <summary>
/// N ActorSystems in this process joined into one Akka.NET cluster on 127.0.0.1 (ephemeral ports), each running the
/// runtime with clustered credentials (<see cref="ClusteredHttpRuntime"/>): the approach of tests/Cluster/ClusterTestNodes.cs,
/// reduced to what a benchmark needs (start, wait until every node serves the shared pair, stop).
/// </summary>
/// <remarks>
/// Gossip and DistributedData intervals are short as in the tests (nodes that did not ask learn a new pair sooner);
/// remoting is loopback without TLS. No node is stopped during a run, so no downing settings are needed.
/// </remarks>
internal sealed class ClusterNodes : IAsyncDisposable
{
    private const string Hocon = """
        akka {
          loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.provider = cluster
          remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
          coordinated-shutdown.run-by-actor-system-terminate = off
          cluster {
            gossip-interval = 200ms
            leader-actions-interval = 200ms
            distributed-data { gossip-interval = 200ms, notify-subscribers-interval = 50ms }
            singleton-proxy { singleton-identification-interval = 200ms, log-singleton-identification-failure = off }
          }
        }
        """;

    private readonly List<(ActorSystem System, HttpClient Calls, HttpClient Tokens)> _members;

    private ClusterNodes(List<(ActorSystem, HttpClient, HttpClient)> members, IReadOnlyList<IHttpRuntimeClient> clients)
    {
        _members = members;
        Clients = clients;
    }

    /// <summary>Each node's runtime, in start order (the first node is the seed, and so the oldest: it runs the owner).</summary>
    public IReadOnlyList<IHttpRuntimeClient> Clients { get; }

    /// <summary>Each node's ActorSystem, in the same order.</summary>
    public IEnumerable<ActorSystem> Systems => _members.Select(m => m.System);

    /// <summary>Starts <paramref name="count"/> nodes with <paramref name="options"/>, joins them and waits until each serves a token.</summary>
    public static async Task<ClusterNodes> StartAsync(int count, HttpRuntimeOptions options, CancellationToken cancellationToken)
    {
        var config = ConfigurationFactory.ParseString($"akka.cluster.min-nr-of-members = {count}").WithFallback(ConfigurationFactory.ParseString(Hocon));
        var clustered = new ClusteredCredentialsOptions();
        var name = "courier-bench-" + Guid.NewGuid().ToString("N")[..8];
        var members = new List<(ActorSystem, HttpClient, HttpClient)>();
        var actors = new List<HttpRuntimeActors>();
        for (var i = 0; i < count; i++)
        {
            var system = ActorSystem.Create(name, config);
            // As in StormTarget.StartSingle: token requests have their own connection pool.
            var calls = new HttpClient(HttpRuntime.CreatePrimaryHandler(options)) { Timeout = Timeout.InfiniteTimeSpan };
            var tokens = new HttpClient(HttpRuntime.CreatePrimaryHandler(options)) { Timeout = Timeout.InfiniteTimeSpan };
            members.Add((system, calls, tokens));
            actors.Add(ClusteredHttpRuntime.StartActors(system, options, clustered, () => calls, tokens));
        }
        var nodes = new ClusterNodes(members, actors.Select(a => (IHttpRuntimeClient)new HttpRuntimeClient(a, options)).ToArray());
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(30));
            var seed = Akka.Cluster.Cluster.Get(members[0].Item1).SelfAddress;
            await Task.WhenAll(members.Select(m =>
            {
                var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                var cluster = Akka.Cluster.Cluster.Get(m.Item1);
                cluster.RegisterOnMemberUp(() => up.TrySetResult());
                cluster.Join(seed);
                return up.Task;
            })).WaitAsync(timeout.Token).ConfigureAwait(false);
            // A token request is stashed until the node has the cluster's pair: the answer is the wait.
            foreach (var a in actors)
            {
                if (await a.Tokens!.Ask<object>(new GetToken(-1), timeout.Token).ConfigureAwait(false) is not TokenGranted)
                    throw new InvalidOperationException("a cluster node serves no token");
            }
            return nodes;
        }
        catch
        {
            await nodes.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Akka.Remote warns about channels it cannot close cleanly while the systems stop, on stdout (Akka's default
        // logger), which carries the report: only errors from here on.
        foreach (var (system, _, _) in _members) system.EventStream.SetLogLevel(Akka.Event.LogLevel.ErrorLevel);
        await Task.WhenAll(_members.Select(m => m.System.Terminate())).ConfigureAwait(false);
        foreach (var (_, calls, tokens) in _members)
        {
            calls.Dispose();
            tokens.Dispose();
        }
    }
}
