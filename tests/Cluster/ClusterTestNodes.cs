using Akka.Cluster.Tools.Singleton;
using Akka.Configuration;
using Courier.Auth;
using Courier.Cluster;
using Courier.Requests;
using Courier.Sandbox;

namespace Courier.Tests.Cluster;

/// <summary>
/// Several ActorSystems in this process joined into one Akka.NET cluster on 127.0.0.1 (ephemeral ports), each running
/// the runtime with clustered credentials against one Sandbox server. Meant for tests and for a benchmark of the
/// refresh storm: <see cref="StartAsync"/>, then <see cref="Node.Client"/> on each node, <see cref="FindOwnerAsync"/>,
/// <see cref="Node.LeaveAsync"/> and <see cref="Node.KillAsync"/>.
/// </summary>
/// <remarks>
/// The cluster settings are short so that a node that dies is downed within seconds (split-brain resolver,
/// keep-majority, 1.5 s stable-after) and replicas gossip fast; production keeps Akka's defaults.
/// </remarks>
public sealed class ClusterTestNodes : IAsyncDisposable
{
    private const string Hocon = """
        akka {
          loglevel = WARNING
          log-dead-letters = off
          log-dead-letters-during-shutdown = off
          actor.provider = cluster
          remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
          coordinated-shutdown.run-by-actor-system-terminate = off   # Terminate() is an abrupt stop; LeaveAsync leaves
          cluster {
            gossip-interval = 200ms
            leader-actions-interval = 200ms
            failure-detector { heartbeat-interval = 250ms, acceptable-heartbeat-pause = 2s }
            downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
            split-brain-resolver { active-strategy = keep-majority, stable-after = 1.5s }
            distributed-data { gossip-interval = 200ms, notify-subscribers-interval = 50ms }
            singleton { hand-over-retry-interval = 200ms }
            singleton-proxy { singleton-identification-interval = 200ms, log-singleton-identification-failure = off }
          }
        }
        """;

    private ClusterTestNodes(SandboxServer server, IReadOnlyList<Node> nodes, ClusteredCredentialsOptions clustered)
    {
        Server = server;
        Nodes = nodes;
        Clustered = clustered;
    }

    /// <summary>The Sandbox server the nodes call and refresh against.</summary>
    public SandboxServer Server { get; }

    /// <summary>The nodes, in start order (the first one is the seed).</summary>
    public IReadOnlyList<Node> Nodes { get; }

    /// <summary>The cluster settings every node uses.</summary>
    public ClusteredCredentialsOptions Clustered { get; }

    /// <summary>The nodes that have not been stopped.</summary>
    public IEnumerable<Node> Running => Nodes.Where(n => !n.Stopped);

    /// <summary>
    /// Starts <paramref name="count"/> nodes with the same configured tokens (issued by <paramref name="server"/>'s JSON
    /// endpoint), joins them and returns once every node is Up and serves the shared pair.
    /// </summary>
    /// <param name="server">The Sandbox server.</param>
    /// <param name="count">How many nodes.</param>
    /// <param name="configure">Changes to every node's runtime options.</param>
    /// <param name="hocon">HOCON that overrides the test defaults on every node (TLS, for example).</param>
    /// <param name="timeout">How long the cluster may take to form.</param>
    public static async Task<ClusterTestNodes> StartAsync(SandboxServer server, int count = 3, Action<HttpRuntimeOptions>? configure = null,
        string? hocon = null, TimeSpan? timeout = null)
    {
        var (access, refresh, _) = server.Auth.IssueTokens();
        var clustered = new ClusteredCredentialsOptions { MajorityTimeout = TimeSpan.FromSeconds(2), ResendInterval = TimeSpan.FromMilliseconds(500) };
        var config = ConfigurationFactory.ParseString($"akka.cluster.min-nr-of-members = {count}\n{hocon}").WithFallback(ConfigurationFactory.ParseString(Hocon));
        var nodes = new List<Node>();
        var clusterName = "courier-" + Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < count; i++)
        {
            var options = new HttpRuntimeOptions { MaxConcurrentCalls = 512 };
            options.Retry.BaseDelay = TimeSpan.FromMilliseconds(10);
            options.Retry.MaxDelay = TimeSpan.FromMilliseconds(100);
            options.Retry.MaxJitter = TimeSpan.FromMilliseconds(5);
            options.Auth = new TokenOptions
            {
                RefreshEndpoint = new Uri(server.BaseAddress, "/auth/refresh"),
                AccessToken = access,
                RefreshToken = refresh,
                RefreshTimeout = TimeSpan.FromSeconds(20),
            };
            configure?.Invoke(options);
            var system = ActorSystem.Create(clusterName, config);
            var handler = HttpRuntime.CreatePrimaryHandler(options);
            var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
            var actors = ClusteredHttpRuntime.StartActors(system, options, clustered, () => http, http);
            nodes.Add(new Node(i, system, handler, new HttpRuntimeClient(actors, options), actors, clustered));
        }

        var result = new ClusterTestNodes(server, nodes, clustered);
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        var seed = Akka.Cluster.Cluster.Get(nodes[0].System).SelfAddress;
        var up = nodes.Select(n =>
        {
            var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(n.System).RegisterOnMemberUp(() => done.TrySetResult());
            Akka.Cluster.Cluster.Get(n.System).Join(seed);
            return done.Task;
        });
        await Task.WhenAll(up).WaitAsync(cancel.Token);
        foreach (var node in nodes) await node.WaitUntilServingAsync(cancel.Token);
        return result;
    }

    /// <summary>Asks the credential owner (through <paramref name="via"/>) until <paramref name="accept"/> holds, then returns the node it runs on.</summary>
    public async Task<(Node Node, CredentialOwnerStatus Status)> FindOwnerAsync(Node via, Func<CredentialOwnerStatus, bool>? accept = null, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? TimeSpan.FromSeconds(20));
        while (true)
        {
            cancel.Token.ThrowIfCancellationRequested();
            try
            {
                // Each ask is a real wait on an answer (the proxy buffers until it knows the owner); no sleeping between them.
                var status = await via.OwnerProxy.Ask<CredentialOwnerStatus>(GetCredentialOwnerStatus.Instance, TimeSpan.FromMilliseconds(500), cancel.Token);
                var node = Nodes.FirstOrDefault(n => n.Address == status.Node);
                if (node is not null && !node.Stopped && (accept?.Invoke(status) ?? true)) return (node, status);
            }
            catch (AskTimeoutException)
            {
            }
        }
    }

    /// <summary>Stops every node still running, then frees the handlers.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(Running.Select(n => n.System.Terminate()));
        foreach (var node in Nodes) node.Dispose();
    }

    /// <summary>One member: its ActorSystem, its runtime and a proxy to the credential owner.</summary>
    public sealed class Node : IDisposable
    {
        private readonly SocketsHttpHandler _handler;
        private readonly Lazy<IActorRef> _ownerProxy;

        internal Node(int index, ActorSystem system, SocketsHttpHandler handler, HttpRuntimeClient client, HttpRuntimeActors actors,
            ClusteredCredentialsOptions clustered)
        {
            Index = index;
            System = system;
            _handler = handler;
            Client = client;
            Actors = actors;
            Address = Akka.Cluster.Cluster.Get(system).SelfAddress.ToString();
            _ownerProxy = new Lazy<IActorRef>(() => system.ActorOf(ClusterSingletonProxy.Props("/user/" + clustered.SingletonName,
                ClusterSingletonProxySettings.Create(system).WithSingletonName(clustered.SingletonName)), "test-owner-proxy"));
        }

        /// <summary>The node's position in start order.</summary>
        public int Index { get; }

        /// <summary>The node's ActorSystem.</summary>
        public ActorSystem System { get; }

        /// <summary>The runtime's client on this node.</summary>
        public HttpRuntimeClient Client { get; }

        /// <summary>The runtime's actors on this node.</summary>
        public HttpRuntimeActors Actors { get; }

        /// <summary>The node's cluster address, as <see cref="CredentialOwnerStatus.Node"/> shows it.</summary>
        public string Address { get; }

        /// <summary>A singleton proxy to the credential owner, for status questions.</summary>
        public IActorRef OwnerProxy => _ownerProxy.Value;

        /// <summary>True once the node was stopped (gracefully or not).</summary>
        public bool Stopped { get; private set; }

        /// <summary>
        /// Waits until this node's TokenActor serves a shared pair: a token request is stashed while it waits for the first
        /// one, so the answer is the wait. Returns the generation served.
        /// </summary>
        public async Task<long> WaitUntilServingAsync(CancellationToken cancellationToken)
        {
            var answer = await Actors.Tokens!.Ask<object>(new GetToken(-1), cancellationToken);
            return answer is TokenGranted granted ? granted.Generation
                : throw new InvalidOperationException($"node {Index} serves no token: {answer}");
        }

        /// <summary>Leaves the cluster gracefully (the owner hands over), then stops the ActorSystem.</summary>
        public async Task LeaveAsync()
        {
            Stopped = true;
            await CoordinatedShutdown.Get(System).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        }

        /// <summary>Stops the ActorSystem without leaving: the others see it unreachable and down it.</summary>
        public async Task KillAsync()
        {
            Stopped = true;
            await System.Terminate();
        }

        /// <inheritdoc />
        public void Dispose() => _handler.Dispose();
    }
}
