using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;
using Akka.Management.Cluster.Bootstrap;

namespace Courier.Cluster;

/// <summary>
/// Joins a node to its cluster through Akka.Management's Cluster Bootstrap (<see cref="BootstrapOptions"/>,
/// <c>Courier:Cluster:Bootstrap</c>): the HOCON the actor system must be created with, and the start of the management
/// endpoint and of the bootstrap. Discovery, the probing of contact points and the join decision are Akka.Management's;
/// the HTTP route the probes read is served by Courier (Akka.Management's own server does not start with the Ceen.Httpd
/// package that restores next to Akka.Management 1.5.73). <see cref="Hosting.ClusteredCredentialsHostingExtensions.WithClusteredCredentials(Akka.Hosting.AkkaConfigurationBuilder, ClusteredCredentialsOptions?, HttpRuntimeOptions?)"/>
/// does both when <see cref="ClusteredCredentialsOptions.Bootstrap"/> is set; a program that creates its own
/// <see cref="ActorSystem"/> calls <see cref="Config"/> and <see cref="StartAsync"/> itself.
/// </summary>
public static class FleetBootstrap
{
    /// <summary>
    /// The settings of Akka.Management, Cluster Bootstrap and (with config discovery) Akka.Discovery's service list for
    /// <paramref name="options"/>: put it in front of the actor system's own configuration (it wins over it).
    /// </summary>
    /// <param name="options">The bootstrap settings; validated here.</param>
    public static Config Config(BootstrapOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var service = Quote(options.ServiceName);
        var hocon = new StringBuilder();
        hocon.AppendLine("akka.management {");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"  http.port = {options.ManagementPort}");
        if (options.ManagementHostName is { } host) hocon.AppendLine(CultureInfo.InvariantCulture, $"  http.hostname = {Quote(host)}");
        hocon.AppendLine("  cluster.bootstrap {");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"    new-cluster-enabled = {(options.NewClusterEnabled ? "on" : "off")}");
        hocon.AppendLine("    contact-point-discovery {");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      service-name = {service}");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      discovery-method = {Quote(options.DiscoveryMethod)}");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      required-contact-point-nr = {options.RequiredContactPoints}");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      stable-margin = {Milliseconds(options.StableMargin)}");
        hocon.AppendLine("    }");
        hocon.AppendLine("    contact-point {");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      probe-interval = {Milliseconds(options.ProbeInterval)}");
        hocon.AppendLine(CultureInfo.InvariantCulture, $"      fallback-port = {options.ManagementPort}");
        // Config discovery lists management endpoints only, each with its port: keep them all (by default only the ones on
        // this node's own management port are probed, which drops every other node when they share a host).
        if (options.UsesConfigDiscovery) hocon.AppendLine("      filter-on-fallback-port = false");
        hocon.AppendLine("    }");
        hocon.AppendLine("  }");
        hocon.AppendLine("}");
        if (options.UsesConfigDiscovery)
        {
            hocon.AppendLine(CultureInfo.InvariantCulture,
                $"akka.discovery.config.services {{ {service} {{ endpoints = [{string.Join(", ", options.ContactPoints.Select(Quote))}] }} }}");
        }
        return ConfigurationFactory.ParseString(hocon.ToString());
    }

    /// <summary>
    /// Starts the management endpoint with the bootstrap's route (<c>GET /bootstrap/seed-nodes</c>) and Cluster Bootstrap on
    /// <paramref name="system"/>, which was created with <see cref="Config"/>. The node joins (or forms) the cluster in the
    /// background: wait for member-up, not for this task.
    /// </summary>
    /// <exception cref="InvalidOperationException">The actor system also lists <c>akka.cluster.seed-nodes</c> (one way to
    /// join, not two), or was not created with the bootstrap's configuration.</exception>
    public static async Task StartAsync(ActorSystem system)
    {
        ArgumentNullException.ThrowIfNull(system);
        var config = system.Settings.Config;
        if (config.GetStringList("akka.cluster.seed-nodes") is { Count: > 0 } seeds)
            throw new InvalidOperationException(
                $"{BootstrapOptions.SectionName} is set and akka.cluster.seed-nodes lists {seeds.Count} node(s): join through one of them, not both " +
                "(remove the seed nodes, e.g. ClusterOptions.SeedNodes, or the Bootstrap section).");
        // Config(...) always names the discovery method; Akka.Management's default rides on akka.discovery.method instead.
        if (config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method", null) is null or "akka.discovery")
            throw new InvalidOperationException(
                $"{BootstrapOptions.SectionName} is set but the actor system was created without its settings: create it with FleetBootstrap.Config(...) in front of its configuration.");
        // Akka.Management's own HTTP server does not start with the Ceen.Httpd that restores (see BootstrapEndpoint): the
        // bootstrap's route is served by BootstrapEndpoint, on akka.management.http.hostname/port as Akka.Management would.
        var host = config.GetString("akka.management.http.hostname");
        if (string.IsNullOrEmpty(host) || host == "<hostname>") host = Akka.Cluster.Cluster.Get(system).SelfAddress.Host ?? "127.0.0.1";
        BootstrapEndpoint.Start(system, host, config.GetInt("akka.management.http.port"));
        await ClusterBootstrap.Get(system).Start().ConfigureAwait(false);
    }

    private static string Quote(string value) => "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";

    private static string Milliseconds(TimeSpan value) => ((long)Math.Ceiling(value.TotalMilliseconds)).ToString(CultureInfo.InvariantCulture) + "ms";
}
