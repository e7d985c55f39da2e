using System.Collections.Concurrent;
using System.Security.Cryptography;
using Akka.Event;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Courier.Cluster;
using Courier.Cluster.Hosting;
using Courier.Hosting;
using Courier.Requests;
using Courier.Sandbox;
using Courier.Transfers;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Courier.Tests.Hosting;

/// <summary>
/// A clustered hosted service (one-node cluster) goes through the same registration path as <c>WithHttpRuntime</c>:
/// every actor is registered, transfers work, and <c>Courier:Cluster</c> binds from configuration with validation.
/// </summary>
public sealed class ClusteredHostingTests
{
    private static IHost BuildHost(SandboxServer server, Dictionary<string, string?> settings, string? systemName = null, bool optionsAtBuild = false)
    {
        var (access, refresh, _) = server.Auth.IssueTokens();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>(settings)
        {
            ["Courier:BaseAddress"] = server.BaseAddress.ToString(),
            ["Courier:Auth:RefreshEndpoint"] = new Uri(server.BaseAddress, "/auth/refresh").ToString(),
            ["Courier:Auth:AccessToken"] = access,
            ["Courier:Auth:RefreshToken"] = refresh,
        });
        builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName));
        builder.Services.AddClusteredCredentials(builder.Configuration.GetSection(ClusteredCredentialsOptions.SectionName));
        builder.Services.AddAkka(systemName ?? "clustered-" + Guid.NewGuid().ToString("N")[..8], (akka, services) =>
        {
            akka.AddHocon($"akka.loglevel = WARNING\nakka.loggers = [\"{typeof(RecordingLogger).AssemblyQualifiedName}\"]", HoconAddMode.Prepend)
                .WithRemoting(new RemoteOptions { HostName = "127.0.0.1", Port = 0 })
                .WithClustering(new ClusterOptions());
            if (optionsAtBuild) akka.WithClusteredCredentials(services);
            else akka.WithClusteredCredentials();
        });
        return builder.Build();
    }

    // Regression (issue 9 item 14, issue 14): WithClusteredCredentials did not register the TransferCoordinator, so
    // UploadAsync/DownloadAsync threw in clustered services; Courier:Cluster was not bound.
    [Fact]
    public async Task A_clustered_hosted_service_uploads_and_downloads_a_file_and_binds_Courier_Cluster()
    {
        await using var server = await SandboxServer.StartAsync();
        var systemName = "clustered-" + Guid.NewGuid().ToString("N")[..8];
        using var host = BuildHost(server, new() { ["Courier:Cluster:SingletonName"] = "orders-credentials" }, systemName);
        await host.StartAsync();
        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        await cluster.JoinAsync(cluster.SelfAddress).WaitAsync(TimeSpan.FromSeconds(20));

        Assert.Equal("orders-credentials", host.Services.GetRequiredService<IOptions<ClusteredCredentialsOptions>>().Value.SingletonName);
        var owner = await host.Services.GetRequiredService<IRequiredActor<CredentialOwner>>().GetAsync();
        Assert.Equal("orders-credentials-proxy", owner.Path.Name); // the node's one proxy, named after the bound singleton
        await host.Services.GetRequiredService<IRequiredActor<TransferCoordinator>>().GetAsync().WaitAsync(TimeSpan.FromSeconds(10));

        var folder = Directory.CreateTempSubdirectory("courier-clustered-").FullName;
        try
        {
            var bytes = RandomNumberGenerator.GetBytes(300_000);
            var source = Path.Combine(folder, "report.bin");
            await File.WriteAllBytesAsync(source, bytes);
            var key = "clustered-" + Guid.NewGuid().ToString("N");
            var client = host.Services.GetRequiredService<IHttpRuntimeClient>();

            var uploaded = await client.UploadAsync(new UploadRequest(new Uri($"/protected-files/{key}/multipart", UriKind.Relative), source) { ComputeSha256 = true })
                .WaitAsync(TimeSpan.FromSeconds(30));
            var downloaded = await client.DownloadAsync(new DownloadRequest(new Uri($"/protected-files/{key}/report.bin", UriKind.Relative),
                Path.Combine(folder, "copy.bin"))).WaitAsync(TimeSpan.FromSeconds(30));

            var expected = Convert.ToHexString(SHA256.HashData(bytes)).ToLowerInvariant();
            Assert.Equal(expected, uploaded.Sha256);
            Assert.Equal(expected, downloaded.Sha256);
            Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(folder, "copy.bin")));

            // A quiet start (issue 14): the owner proxy logged "ClusterSingletonProxy failed to find ..." in every node's
            // first second, twice (there were two proxies).
            Assert.DoesNotContain(RecordingLogger.Warnings, w => w.Contains(systemName) && w.Contains("failed to find"));
        }
        finally
        {
            await host.StopAsync();
            Directory.Delete(folder, recursive: true);
        }
    }

    // Issue 14: a hosted node joins through Cluster Bootstrap (Courier:Cluster:Bootstrap, config discovery) with no seed
    // node and no Join call: the one contact point is its own endpoint, so it forms the cluster itself.
    [Fact]
    public async Task A_hosted_node_with_Courier_Cluster_Bootstrap_forms_its_cluster_through_config_discovery_and_serves_calls()
    {
        await using var server = await SandboxServer.StartAsync();
        var port = LoopbackPorts.Free(1)[0];
        using var host = BuildHost(server, BootstrapSettings(port), optionsAtBuild: true);
        await host.StartAsync();
        try
        {
            var system = host.Services.GetRequiredService<ActorSystem>();
            var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            Akka.Cluster.Cluster.Get(system).RegisterOnMemberUp(() => up.TrySetResult());
            await up.Task.WaitAsync(TimeSpan.FromSeconds(30));

            server.Auth.ExpireAccessTokens();
            var client = host.Services.GetRequiredService<IHttpRuntimeClient>();
            using (var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(server.BaseAddress, "/secure/bootstrapped")))
                       .WaitAsync(TimeSpan.FromSeconds(30)))
                Assert.Equal(System.Net.HttpStatusCode.OK, response.StatusCode);
            Assert.Equal(1, server.Auth.RefreshesPerformed);
        }
        finally
        {
            await host.StopAsync();
        }
    }

    [Fact]
    public async Task Courier_Cluster_Bootstrap_read_after_the_actor_system_exists_is_refused_with_the_call_to_use()
    {
        await using var server = await SandboxServer.StartAsync();
        using var host = BuildHost(server, BootstrapSettings(LoopbackPorts.Free(1)[0]), optionsAtBuild: false);

        var error = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync());
        var message = error.ToString();
        Assert.Contains("Courier:Cluster:Bootstrap", message);
        Assert.Contains("WithClusteredCredentials(services)", message);
        await host.StopAsync();
    }

    private static Dictionary<string, string?> BootstrapSettings(int port) => new()
    {
        ["Courier:Cluster:Bootstrap:ContactPoints:0"] = $"127.0.0.1:{port}",
        ["Courier:Cluster:Bootstrap:RequiredContactPoints"] = "1",
        ["Courier:Cluster:Bootstrap:ManagementHostName"] = "127.0.0.1",
        ["Courier:Cluster:Bootstrap:ManagementPort"] = port.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["Courier:Cluster:Bootstrap:StableMargin"] = "00:00:00.500",
        ["Courier:Cluster:Bootstrap:ProbeInterval"] = "00:00:00.500",
    };

    /// <summary>An Akka logger that keeps every warning (with its source, which names the actor system).</summary>
    public sealed class RecordingLogger : ReceiveActor
    {
        public static readonly ConcurrentQueue<string> Warnings = new();

        public RecordingLogger()
        {
            Receive<InitializeLogger>(_ => Sender.Tell(new LoggerInitialized()));
            Receive<Warning>(w => Warnings.Enqueue($"{w.LogSource}: {w.Message}"));
            ReceiveAny(_ => { });
        }
    }

    [Fact]
    public async Task An_invalid_Courier_Cluster_setting_stops_the_host_with_a_message_naming_it()
    {
        await using var server = await SandboxServer.StartAsync();
        using var host = BuildHost(server, new() { ["Courier:Cluster:MajorityTimeout"] = "-00:00:01" });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Contains("Courier:Cluster:MajorityTimeout", error.Message);
    }
}
