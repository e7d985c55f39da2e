using Akka.Configuration;
using Courier.Cluster;
using Courier.Cluster.Hosting;

namespace Courier.Tests.Cluster;

/// <summary>
/// Courier:Cluster:Bootstrap (Akka.Management's Cluster Bootstrap with config discovery): what binds, what is refused
/// with the key named, and the Akka settings it turns into. Joining through it is tested across processes in
/// <see cref="MultiProcessClusterTests"/> and in a hosted node in <see cref="Courier.Tests.Hosting.ClusteredHostingTests"/>.
/// </summary>
public sealed class BootstrapOptionsTests
{
    private static BootstrapOptions Fleet(params string[] contactPoints) => new()
    {
        ServiceName = "orders",
        ContactPoints = [.. contactPoints],
        RequiredContactPoints = contactPoints.Length,
        ManagementHostName = "127.0.0.1",
        ManagementPort = 8558,
    };

    [Fact]
    public void Courier_Cluster_Bootstrap_binds_from_configuration()
    {
        var bootstrap = BoundOptions.ClusteredCredentials(new()
        {
            ["Courier:Cluster:Bootstrap:ServiceName"] = "orders",
            ["Courier:Cluster:Bootstrap:ContactPoints:0"] = "10.0.0.1:8558",
            ["Courier:Cluster:Bootstrap:ContactPoints:1"] = "10.0.0.2:8558",
            ["Courier:Cluster:Bootstrap:ContactPoints:2"] = "10.0.0.3:8558",
            ["Courier:Cluster:Bootstrap:RequiredContactPoints"] = "3",
            ["Courier:Cluster:Bootstrap:ManagementPort"] = "9000",
            ["Courier:Cluster:Bootstrap:StableMargin"] = "00:00:02",
        }).Bootstrap;

        Assert.NotNull(bootstrap);
        Assert.Equal("orders", bootstrap.ServiceName);
        Assert.Equal(["10.0.0.1:8558", "10.0.0.2:8558", "10.0.0.3:8558"], bootstrap.ContactPoints);
        Assert.Equal(3, bootstrap.RequiredContactPoints);
        Assert.Equal(9000, bootstrap.ManagementPort);
        Assert.Equal(TimeSpan.FromSeconds(2), bootstrap.StableMargin);
        Assert.Equal("config", bootstrap.DiscoveryMethod);
    }

    [Fact]
    public void Without_the_section_there_is_no_bootstrap()
    {
        Assert.Null(BoundOptions.ClusteredCredentials(new() { ["Courier:Cluster:Role"] = "api" }).Bootstrap);
    }

    [Theory]
    [InlineData("ContactPoints", "Courier:Cluster:Bootstrap:ContactPoints lists 2 endpoint(s), fewer than Courier:Cluster:Bootstrap:RequiredContactPoints (3)")]
    [InlineData("ContactPoint", "Courier:Cluster:Bootstrap:ContactPoints:1 must be host:port")]
    [InlineData("Duplicate", "Courier:Cluster:Bootstrap:ContactPoints lists an endpoint twice")]
    [InlineData("ManagementPort", "Courier:Cluster:Bootstrap:ManagementPort")]
    [InlineData("RequiredContactPoints", "Courier:Cluster:Bootstrap:RequiredContactPoints")]
    [InlineData("StableMargin", "Courier:Cluster:Bootstrap:StableMargin")]
    [InlineData("DiscoveryMethod", "Courier:Cluster:Bootstrap:ContactPoints is for config discovery only")]
    [InlineData("ServiceName", "Courier:Cluster:Bootstrap:ServiceName")]
    public void A_bad_bootstrap_setting_is_refused_with_its_key(string setting, string message)
    {
        var options = Fleet("127.0.0.1:8558", "127.0.0.1:8559", "127.0.0.1:8560");
        switch (setting)
        {
            case "ContactPoints": options.ContactPoints.RemoveAt(2); break;
            case "ContactPoint": options.ContactPoints[1] = "127.0.0.1"; break;
            case "Duplicate": options.ContactPoints[2] = options.ContactPoints[0]; break;
            case "ManagementPort": options.ManagementPort = 0; break;
            case "RequiredContactPoints": options.RequiredContactPoints = 0; break;
            case "StableMargin": options.StableMargin = TimeSpan.Zero; break;
            case "DiscoveryMethod": options.DiscoveryMethod = "kubernetes-api"; break;
            case "ServiceName": options.ServiceName = " "; break;
        }

        // Through the cluster options, as the host validates them at start.
        var error = Assert.ThrowsAny<ArgumentException>(() => new ClusteredCredentialsOptions { Bootstrap = options }.Validate());
        Assert.Contains(message, error.Message);
    }

    [Fact]
    public void Another_discovery_method_needs_no_contact_points()
    {
        var options = new BootstrapOptions { DiscoveryMethod = "kubernetes-api", RequiredContactPoints = 3 };
        options.Validate();

        var config = FleetBootstrap.Config(options);
        Assert.Equal("kubernetes-api", config.GetString("akka.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
        Assert.False(config.HasPath("akka.discovery.config.services"));
        // Only the endpoints on the management port are probed, as Akka.Management does by default.
        Assert.False(config.HasPath("akka.management.cluster.bootstrap.contact-point.filter-on-fallback-port"));
    }

    [Fact]
    public void The_settings_become_Akka_Management_and_config_discovery_settings()
    {
        var options = Fleet("127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003");
        options.ServiceName = "orders.prod"; // a dot: a quoted HOCON key, not a path
        options.StableMargin = TimeSpan.FromMilliseconds(1500);

        var config = FleetBootstrap.Config(options);

        const string bootstrap = "akka.management.cluster.bootstrap";
        Assert.Equal("orders.prod", config.GetString(bootstrap + ".contact-point-discovery.service-name"));
        Assert.Equal("config", config.GetString(bootstrap + ".contact-point-discovery.discovery-method"));
        Assert.Equal(3, config.GetInt(bootstrap + ".contact-point-discovery.required-contact-point-nr"));
        Assert.Equal(TimeSpan.FromMilliseconds(1500), config.GetTimeSpan(bootstrap + ".contact-point-discovery.stable-margin"));
        Assert.False(config.GetBoolean(bootstrap + ".contact-point.filter-on-fallback-port"));
        Assert.True(config.GetBoolean(bootstrap + ".new-cluster-enabled"));
        Assert.Equal(8558, config.GetInt("akka.management.http.port"));
        Assert.Equal("127.0.0.1", config.GetString("akka.management.http.hostname"));
        Assert.Equal(["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"], config.GetStringList("akka.discovery.config.services.\"orders.prod\".endpoints"));
    }

    [Fact]
    public async Task Bootstrap_beside_static_seed_nodes_is_refused_naming_both()
    {
        var config = FleetBootstrap.Config(Fleet("127.0.0.1:9001")).WithFallback(ConfigurationFactory.ParseString("""
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
            akka.cluster.seed-nodes = ["akka.tcp://seeds@127.0.0.1:4053"]
            """));
        using var system = ActorSystem.Create("seeds", config);

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => FleetBootstrap.StartAsync(system));
        Assert.Contains("Courier:Cluster:Bootstrap", error.Message);
        Assert.Contains("akka.cluster.seed-nodes", error.Message);
        await system.Terminate();
    }

    [Fact]
    public async Task Starting_the_bootstrap_on_a_system_created_without_its_settings_is_refused()
    {
        using var system = ActorSystem.Create("unprepared", "akka.loglevel = WARNING\nakka.actor.provider = cluster\nakka.remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }");

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => FleetBootstrap.StartAsync(system));
        Assert.Contains("FleetBootstrap.Config", error.Message);
        await system.Terminate();
    }
}
