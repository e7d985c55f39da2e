using System.Globalization;

namespace Courier.Cluster;

/// <summary>
/// Joining the cluster through Akka.Management's Cluster Bootstrap instead of static seed nodes (section
/// <c>Courier:Cluster:Bootstrap</c>): each node runs Akka.Management's HTTP endpoint, finds the other nodes' endpoints
/// through a service discovery method, and either joins the cluster one of them already belongs to or, when none does,
/// the node with the lowest address forms it. Static seed nodes name fixed addresses, which a rolling deploy replaces;
/// discovery follows the fleet as it is.
/// </summary>
/// <remarks>
/// With <see cref="DiscoveryMethod"/> <c>config</c> (the default) the endpoints are listed in <see cref="ContactPoints"/>
/// (Akka.Discovery's config discovery). Any other method (for example <c>kubernetes-api</c> from
/// Akka.Discovery.KubernetesApi) is configured by the application in <c>akka.discovery</c>; see docs/scaling-out.md.
/// </remarks>
public sealed class BootstrapOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = ClusteredCredentialsOptions.SectionName + ":Bootstrap";

    /// <summary>The discovery method's name for the endpoints listed in <see cref="ContactPoints"/>.</summary>
    public const string ConfigDiscovery = "config";

    /// <summary>
    /// The service name looked up in discovery (with config discovery: the entry under
    /// <c>akka.discovery.config.services</c> that lists <see cref="ContactPoints"/>).
    /// </summary>
    /// <value>The default value is <c>courier</c>.</value>
    public string ServiceName { get; set; } = "courier";

    /// <summary>
    /// The discovery method that finds the other nodes' management endpoints: <c>config</c> (the endpoints in
    /// <see cref="ContactPoints"/>), or the name of a method the application configures under <c>akka.discovery</c>
    /// (for example <c>kubernetes-api</c>).
    /// </summary>
    /// <value>The default value is <c>config</c>.</value>
    public string DiscoveryMethod { get; set; } = ConfigDiscovery;

    /// <summary>
    /// With config discovery: every node's management endpoint as <c>host:port</c>, this node's included. All nodes get
    /// the same list.
    /// </summary>
    /// <value>The default value is an empty list.</value>
    public List<string> ContactPoints { get; set; } = [];

    /// <summary>
    /// How many contact points discovery must return before a node decides to join or form the cluster
    /// (<c>required-contact-point-nr</c>). Set it to the number of nodes the fleet starts with: with fewer, two groups
    /// of nodes that start at once can each form a cluster of their own.
    /// </summary>
    /// <value>The default value is 2 (Akka.Management's default).</value>
    public int RequiredContactPoints { get; set; } = 2;

    /// <summary>The host name (or address) that this node's management endpoint is reached at by the other nodes.</summary>
    /// <value>The default value is <see langword="null"/>: Akka.Management's default, remoting's public host name.</value>
    public string? ManagementHostName { get; set; }

    /// <summary>The port of this node's management endpoint (Akka.Management's HTTP server).</summary>
    /// <value>The default value is 8558 (Akka.Management's default).</value>
    public int ManagementPort { get; set; } = 8558;

    /// <summary>
    /// How long the discovered contact points must stay the same before a node decides (<c>stable-margin</c>): shorter
    /// forms the cluster sooner, longer is safer when nodes start one after another.
    /// </summary>
    /// <value>The default value is 5 s (Akka.Management's default).</value>
    public TimeSpan StableMargin { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>How often a node asks the contact points whether they already belong to a cluster (<c>contact-point.probe-interval</c>).</summary>
    /// <value>The default value is 5 s (Akka.Management's default).</value>
    public TimeSpan ProbeInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Whether the lowest-addressed node may form a new cluster when no contact point belongs to one
    /// (<c>new-cluster-enabled</c>). Turning it off once the cluster exists keeps a partitioned redeploy from forming a second one.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool NewClusterEnabled { get; set; } = true;

    /// <summary>Whether <see cref="DiscoveryMethod"/> is config discovery (the endpoints in <see cref="ContactPoints"/>).</summary>
    public bool UsesConfigDiscovery => string.Equals(DiscoveryMethod, ConfigDiscovery, StringComparison.Ordinal);

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ServiceName) || ServiceName.Any(c => c is '"' or '\\' || char.IsControl(c)))
            throw new ArgumentException($"{SectionName}:ServiceName must be a non-blank name without quotes.", nameof(ServiceName));
        if (string.IsNullOrWhiteSpace(DiscoveryMethod) || DiscoveryMethod.Any(c => !(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.')))
            throw new ArgumentException($"{SectionName}:DiscoveryMethod must be 'config' or the name of an akka.discovery method such as 'kubernetes-api'.", nameof(DiscoveryMethod));
        if (RequiredContactPoints < 1)
            throw new ArgumentOutOfRangeException(nameof(RequiredContactPoints), $"{SectionName}:RequiredContactPoints must be at least 1.");
        if (ManagementHostName is not null && (string.IsNullOrWhiteSpace(ManagementHostName) || Uri.CheckHostName(ManagementHostName) == UriHostNameType.Unknown))
            throw new ArgumentException($"{SectionName}:ManagementHostName must be a host name or an IP address.", nameof(ManagementHostName));
        if (ManagementPort is < 1 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(ManagementPort), $"{SectionName}:ManagementPort must be from 1 to 65535 (the other nodes must know it).");
        if (StableMargin <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(StableMargin), $"{SectionName}:StableMargin must be positive.");
        if (ProbeInterval <= TimeSpan.Zero)
            throw new ArgumentOutOfRangeException(nameof(ProbeInterval), $"{SectionName}:ProbeInterval must be positive.");
        if (!UsesConfigDiscovery)
        {
            if (ContactPoints.Count > 0)
                throw new ArgumentException($"{SectionName}:ContactPoints is for config discovery only; DiscoveryMethod is '{DiscoveryMethod}'.", nameof(ContactPoints));
            return;
        }
        if (ContactPoints.Count < RequiredContactPoints)
            throw new ArgumentException($"{SectionName}:ContactPoints lists {ContactPoints.Count} endpoint(s), fewer than {SectionName}:RequiredContactPoints ({RequiredContactPoints}).",
                nameof(ContactPoints));
        for (var i = 0; i < ContactPoints.Count; i++)
        {
            if (!TryParseEndpoint(ContactPoints[i], out _, out _))
                throw new ArgumentException($"{SectionName}:ContactPoints:{i} must be host:port (a management endpoint), not '{ContactPoints[i]}'.", nameof(ContactPoints));
        }
        if (ContactPoints.Distinct(StringComparer.OrdinalIgnoreCase).Count() != ContactPoints.Count)
            throw new ArgumentException($"{SectionName}:ContactPoints lists an endpoint twice.", nameof(ContactPoints));
    }

    /// <summary>Parses <c>host:port</c> (an IPv6 address in brackets).</summary>
    internal static bool TryParseEndpoint(string? value, out string host, out int port)
    {
        host = "";
        port = 0;
        if (string.IsNullOrWhiteSpace(value)) return false;
        var colon = value.LastIndexOf(':');
        if (colon <= 0 || colon == value.Length - 1) return false;
        host = value[..colon];
        if (!int.TryParse(value[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535) return false;
        var bare = host.StartsWith('[') && host.EndsWith(']') ? host[1..^1] : host;
        return Uri.CheckHostName(bare) != UriHostNameType.Unknown;
    }
}
