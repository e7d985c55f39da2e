namespace Courier.Cluster;

/// <summary>
/// Settings of clustered credentials: one refresh owner for the whole Akka.NET cluster (a cluster singleton) and the
/// token pair replicated with Akka.DistributedData. Every property documents its default; values are copied at start.
/// </summary>
/// <remarks>
/// The token endpoint, the initial tokens, the store and the refresh timeouts stay in <see cref="Auth.TokenOptions"/>
/// (<see cref="HttpRuntimeOptions.Auth"/>): every node should be given the same ones.
/// </remarks>
public sealed class ClusteredCredentialsOptions
{
    /// <summary>The configuration section these options bind from (<c>Courier:Cluster</c>).</summary>
    public const string SectionName = "Courier:Cluster";

    /// <summary>
    /// The name of the credential owner singleton: its manager runs at <c>/user/{SingletonName}</c> on every node (with
    /// <see cref="Role"/>). Runtimes that share a cluster but not a credential need different names and <see cref="DataKey"/>s.
    /// </summary>
    /// <value>The default value is <c>courier-credential-owner</c>.</value>
    public string SingletonName { get; set; } = "courier-credential-owner";

    /// <summary>The cluster role the owner may run on; the nodes without it still use the credentials.</summary>
    /// <value>The default value is <see langword="null"/> (any node; the oldest one holds the owner).</value>
    public string? Role { get; set; }

    /// <summary>The Akka.DistributedData key of the replicated pair (an <c>LWWRegister</c> ordered by generation).</summary>
    /// <value>The default value is <c>courier-credentials</c>.</value>
    public string DataKey { get; set; } = "courier-credentials";

    /// <summary>
    /// How long the owner waits for a majority of the nodes to confirm a read (at start or after a hand-over) or a write
    /// (before it releases the waiting calls); it retries after that.
    /// </summary>
    /// <value>The default value is 3 s.</value>
    public TimeSpan MajorityTimeout { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How often a node repeats an unanswered request to the owner (a message sent while the owner moves can be lost);
    /// the owner refreshes once per generation however often it is asked.
    /// </summary>
    /// <value>The default value is 1 s.</value>
    public TimeSpan ResendInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Allow remoting without TLS on an address other than loopback. Refresh tokens and access tokens travel between
    /// the nodes in the owner's answers and the replicated register: without TLS they cross the network in clear text.
    /// </summary>
    /// <value>The default value is <see langword="false"/>: a node whose remoting binds a non-loopback host without
    /// <c>akka.remote.dot-netty.tcp.enable-ssl</c> refuses to start.</value>
    public bool AllowUnencryptedRemoting { get; set; }

    /// <summary>
    /// Join the cluster through Akka.Management's Cluster Bootstrap and a service discovery method instead of static seed
    /// nodes (section <c>Courier:Cluster:Bootstrap</c>; see <see cref="BootstrapOptions"/>). Used by
    /// <see cref="Hosting.ClusteredCredentialsHostingExtensions.WithClusteredCredentials(Akka.Hosting.AkkaConfigurationBuilder, ClusteredCredentialsOptions?, HttpRuntimeOptions?)"/>;
    /// without Akka.Hosting, see <see cref="FleetBootstrap"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the application joins the cluster itself (seed nodes or <c>Cluster.Join</c>).</value>
    public BootstrapOptions? Bootstrap { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(SingletonName) || SingletonName.Contains('/'))
            throw new ArgumentException("Courier:Cluster:SingletonName must be a non-empty actor name.", nameof(SingletonName));
        if (string.IsNullOrWhiteSpace(DataKey)) throw new ArgumentException("Courier:Cluster:DataKey must not be empty.", nameof(DataKey));
        if (Role is not null && string.IsNullOrWhiteSpace(Role)) throw new ArgumentException("Courier:Cluster:Role must not be blank (leave it unset for any node).", nameof(Role));
        if (MajorityTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(MajorityTimeout), "Courier:Cluster:MajorityTimeout must be positive.");
        if (ResendInterval <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ResendInterval), "Courier:Cluster:ResendInterval must be positive.");
        Bootstrap?.Validate();
    }
}
