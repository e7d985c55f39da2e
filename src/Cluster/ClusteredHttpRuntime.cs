using Akka.Event;
using Akka.Actor;
using Akka.Cluster.Tools.Singleton;
using Courier.Auth;
using Courier.Requests;

namespace Courier.Cluster;

/// <summary>
/// Starts the runtime with clustered credentials on an <see cref="ActorSystem"/> whose provider is <c>cluster</c>,
/// without Akka.Hosting: for tests, benchmarks and programs that manage their own actor system. Hosted applications use
/// <see cref="Hosting.ClusteredCredentialsHostingExtensions.WithClusteredCredentials(Akka.Hosting.AkkaConfigurationBuilder, ClusteredCredentialsOptions?, HttpRuntimeOptions?)"/>. Call it once on every node,
/// with the same <see cref="HttpRuntimeOptions.Auth"/> and <see cref="ClusteredCredentialsOptions"/>.
/// </summary>
public static class ClusteredHttpRuntime
{
    /// <summary>Starts the credential owner's singleton manager and the runtime, whose TokenActor leaves refreshes to the owner.</summary>
    /// <remarks>
    /// It does not join the cluster: <see cref="ClusteredCredentialsOptions.Bootstrap"/> is started by
    /// <see cref="FleetBootstrap.StartAsync"/> on a system created with <see cref="FleetBootstrap.Config"/>.
    /// </remarks>
    /// <param name="system">The actor system (<c>akka.actor.provider = cluster</c>); it may join the cluster before or after.</param>
    /// <param name="options">The runtime's options; <see cref="HttpRuntimeOptions.Auth"/> is required.</param>
    /// <param name="clustered">The cluster settings, or null for the defaults.</param>
    /// <param name="clientSource">Gives the client for each attempt.</param>
    /// <param name="tokenClient">The client for token requests (used by the owner when it runs on this node).</param>
    /// <param name="name">The coordinator's actor name.</param>
    /// <param name="transferClientSource">Gives the client for each request of a file transfer, without automatic
    /// decompression (as <see cref="HttpRuntime.Start(ActorSystem, HttpRuntimeOptions, Func{HttpClient}, HttpClient?, string, Func{HttpClient}?)"/>);
    /// null for <paramref name="clientSource"/>.</param>
    public static HttpRuntimeClient Start(ActorSystem system, HttpRuntimeOptions options, ClusteredCredentialsOptions? clustered,
        Func<HttpClient> clientSource, HttpClient? tokenClient, string name = HttpRuntime.CoordinatorName, Func<HttpClient>? transferClientSource = null) =>
        new(StartActors(system, options, clustered, clientSource, tokenClient, name, transferClientSource), options);

    /// <summary>Like <see cref="Start"/>, for actor callers that send <see cref="ExecuteCall"/> themselves.</summary>
    /// <param name="system">The actor system.</param>
    /// <param name="options">The runtime's options; <see cref="HttpRuntimeOptions.Auth"/> is required.</param>
    /// <param name="clustered">The cluster settings, or null for the defaults.</param>
    /// <param name="clientSource">Gives the client for each attempt.</param>
    /// <param name="tokenClient">The client for token requests.</param>
    /// <param name="name">The coordinator's actor name.</param>
    /// <param name="transferClientSource">Gives the client for each request of a file transfer; null for <paramref name="clientSource"/>.</param>
    public static HttpRuntimeActors StartActors(ActorSystem system, HttpRuntimeOptions options, ClusteredCredentialsOptions? clustered,
        Func<HttpClient> clientSource, HttpClient? tokenClient, string name = HttpRuntime.CoordinatorName, Func<HttpClient>? transferClientSource = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        ArgumentNullException.ThrowIfNull(options);
        var node = NodeCredentials.Create(options, clustered ?? new ClusteredCredentialsOptions(), tokenClient);
        return node.Start(system, options, clientSource, tokenClient, name, transferClientSource).Actors;
    }
}

/// <summary>A node's runtime actors and its one proxy of the credential owner singleton.</summary>
internal sealed record ClusteredActors(HttpRuntimeActors Actors, IActorRef OwnerProxy);

/// <summary>One node's share of clustered credentials: its store (shared by the owner and the TokenActor), the owner's and the link's settings.</summary>
internal sealed class NodeCredentials
{
    private NodeCredentials(ClusteredCredentialsOptions clustered, CredentialOwnerSettings owner, CredentialLinkSettings link, ITokenStore store)
    {
        Clustered = clustered;
        Owner = owner;
        Link = link;
        Store = store;
    }

    public ClusteredCredentialsOptions Clustered { get; }
    public CredentialOwnerSettings Owner { get; }
    public CredentialLinkSettings Link { get; }
    public ITokenStore Store { get; }

    public static NodeCredentials Create(HttpRuntimeOptions options, ClusteredCredentialsOptions clustered, HttpClient? tokenClient)
    {
        options.Validate();
        clustered.Validate();
        var auth = options.Auth ?? throw new ArgumentException("Clustered credentials need Courier:Auth (HttpRuntimeOptions.Auth).", nameof(options));
        // Acquired tokens (client credentials) spend nothing and need no owner: each node acquires its own.
        if (auth.Acquires)
            throw new ArgumentException("Clustered credentials share a refresh token; Courier:Auth:Grant ClientCredentials needs none (run it without Courier:Cluster:Credentials).", nameof(options));
        var refresher = auth.Refresher ?? (auth.RefreshEndpoint is null ? null
            : auth.CreateRefresher(tokenClient ?? throw new ArgumentNullException(nameof(tokenClient), "A token endpoint is configured: give the client for token requests.")));
        var store = auth.CreateStore();
        var retry = options.Retry;
        var owner = new CredentialOwnerSettings
        {
            Refresher = refresher,
            Store = store,
            Initial = auth.InitialCredentials(),
            AttemptTimeout = auth.RefreshAttemptTimeout,
            MaxRetries = auth.RefreshMaxRetries,
            DelayBeforeRetry = attempt => Backoff.Compute(attempt, retry, retry.Randomizer()),
            DataKey = clustered.DataKey,
            MajorityTimeout = clustered.MajorityTimeout,
            HandOverTimeout = auth.RefreshTimeout,
        };
        var link = new CredentialLinkSettings
        {
            SingletonName = clustered.SingletonName,
            Role = clustered.Role,
            DataKey = clustered.DataKey,
            ResendInterval = clustered.ResendInterval,
            RefreshTimeout = auth.RefreshTimeout,
        };
        return new NodeCredentials(clustered, owner, link, store);
    }

    public Props OwnerProps() => CredentialOwner.Props(Owner);

    /// <summary>
    /// The one start of a node, used by <see cref="ClusteredHttpRuntime"/> and the hosting extension alike: the remoting
    /// guard, the owner's singleton manager, ONE proxy of the owner for the node (the TokenActor's link and the actor
    /// registry share it: a second proxy only doubles the identification traffic and the start-up warnings), the runtime.
    /// </summary>
    public ClusteredActors Start(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource, HttpClient? tokenClient, string name,
        Func<HttpClient>? transferClientSource = null)
    {
        RemotingGuard.Check(system, Clustered);
        StartOwnerManager(system);
        var proxy = system.ActorOf(OwnerProxyProps(system, Clustered.SingletonName, Clustered.Role), Clustered.SingletonName + "-proxy");
        // Calls wait for a token through the owner-less gap of a failover, not only for RefreshTimeout: the gap is bounded by
        // the cluster's failure detector, split-brain resolver and singleton settings (each call still by its own deadline).
        var budget = FailoverBudget.Of(system, Clustered);
        var wait = budget.HandOverWait(Link.RefreshTimeout);
        if (wait > Link.RefreshTimeout)
            system.Log.Info("Courier: calls wait up to {0:0.#} s for the credential owner (Courier:Auth:RefreshTimeout {1:0.#} s is shorter than the owner-less gap {2}).",
                wait.TotalSeconds, Link.RefreshTimeout.TotalSeconds, budget);
        var actors = HttpRuntime.StartActors(system, options, clientSource, tokenClient, name,
            CredentialLink.Props(Link with { OwnerProxy = proxy, RefreshTimeout = wait }), Store, waitForOwner: wait,
            transferClientSource: transferClientSource);
        return new ClusteredActors(actors, proxy);
    }

    /// <summary>Starts the owner's singleton manager at <c>/user/{SingletonName}</c> (as Akka.Cluster.Hosting does), on nodes with the role.</summary>
    private void StartOwnerManager(ActorSystem system)
    {
        if (Clustered.Role is { } role && !Akka.Cluster.Cluster.Get(system).SelfRoles.Contains(role)) return;
        var settings = ClusterSingletonManagerSettings.Create(system).WithSingletonName(Clustered.SingletonName);
        if (Clustered.Role is not null) settings = settings.WithRole(Clustered.Role);
        system.ActorOf(ClusterSingletonManager.Props(OwnerProps(), StopCredentialOwner.Instance, settings), Clustered.SingletonName);
    }

    /// <summary>
    /// A proxy of the owner singleton at <c>/user/{singletonName}</c>, with its identification-failure warning off: Akka's
    /// proxy logs "failed to find … after 30 seconds" at the very start of every identification (its timer has no initial
    /// delay), so each node logged it within its first second, before the cluster had even formed. A missing owner still
    /// shows: waiting calls fail at <c>Courier:Auth:RefreshTimeout</c> with a message that says so.
    /// </summary>
    public static Props OwnerProxyProps(ActorSystem system, string singletonName, string? role)
    {
        var defaults = ClusterSingletonProxySettings.Create(system);
        var settings = new ClusterSingletonProxySettings(singletonName, role, defaults.SingletonIdentificationInterval, defaults.BufferSize,
            defaults.ConsiderAppVersion, logSingletonIdentificationFailure: false, defaults.SingletonIdentificationFailurePeriod);
        return ClusterSingletonProxy.Props("/user/" + singletonName, settings);
    }
}
