using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Cluster.Hosting;
using Akka.Hosting;
using Akka.Remote.Hosting;
using Courier.Auth;
using Courier.Cluster;
using Courier.Cluster.Hosting;
using Courier.Hosting;
using Courier.Requests;
using Courier.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Courier.Tests.Cluster;

/// <summary>What clustered credentials stand on: serializable messages without tokens in their text, TLS remoting,
/// the refusal of clear-text remoting beyond loopback, and the Akka.Hosting wiring.</summary>
[Collection(nameof(ClusteredCredentialsTests))]
public sealed class ClusterPlumbingTests
{
    [Fact]
    public async Task Messages_that_cross_nodes_survive_the_default_serializer_and_never_show_a_token()
    {
        using var system = ActorSystem.Create("serialization", "akka.loglevel = WARNING");
        var pair = new TokenPair("access-secret", "refresh-secret", DateTimeOffset.Parse("2030-01-02T03:04:05+00:00"));
        var record = new CredentialRecord(7, pair, null, false, "rejected", 2);
        object[] messages =
        [
            record,
            new CredentialRecord(8, null, "invalid_grant", true, "expired", 1),
            new RefreshCredentials(7, "rejected"),
            new RefreshCredentials(7, "rejected", record),
            GetCredentials.Instance,
            new ReplaceCredentials(3, pair),
            new ReplaceCredentials(0, null),
            new CredentialsUpdated(record),
            new CredentialsReplaced(3, record),
            new CredentialRefreshFailed(7, "the token endpoint answered 503", 4),
            GetCredentialOwnerStatus.Instance,
            new CredentialOwnerStatus("Ready", 7, "akka.tcp://x@127.0.0.1:1", 1),
        ];

        foreach (var message in messages)
        {
            var serializer = system.Serialization.FindSerializerFor(message);
            var back = serializer.FromBinary(serializer.ToBinary(message), message.GetType());
            Assert.Equal(message, back);
            Assert.DoesNotContain("secret", message.ToString());
        }
        await system.Terminate();
    }

    [Fact]
    public async Task Tokens_travel_over_TLS_remoting_when_it_is_enabled()
    {
        var folder = Directory.CreateTempSubdirectory("courier-tls-");
        try
        {
            var path = Path.Combine(folder.FullName, "node.pfx");
            const string password = "test-only";
            await File.WriteAllBytesAsync(path, SelfSignedCertificate(password));
            var tls = $$"""
                akka.remote.dot-netty.tcp {
                  enable-ssl = true
                  ssl {
                    suppress-validation = true   # a self-signed test certificate; production validates
                    certificate { path = "{{path.Replace("\\", "\\\\")}}", password = "{{password}}" }
                  }
                }
                """;
            await using var server = await SandboxServer.StartAsync();
            await using var cluster = await ClusterTestNodes.StartAsync(server, hocon: tls);
            Assert.All(cluster.Nodes, n => Assert.True(n.System.Settings.Config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl")));

            server.Auth.ExpireAccessTokens();
            await Task.WhenAll(cluster.Nodes.SelectMany(node => Enumerable.Range(0, 50).Select(async i =>
            {
                using var response = await node.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, $"/secure/tls/{i}")));
            })));

            Assert.Equal(1, server.Auth.RefreshesPerformed);
            Assert.Equal(0, server.Auth.ReuseEvents);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task Clear_text_remoting_beyond_loopback_is_refused_unless_allowed()
    {
        using var system = ActorSystem.Create("guard", """
            akka.loglevel = WARNING
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp { hostname = 127.0.0.1, public-hostname = "node-1.example.internal", port = 0 }
            """);
        var options = new HttpRuntimeOptions { Auth = new TokenOptions { AccessToken = "a", RefreshToken = "r" } };
        using var http = new HttpClient();

        var error = Assert.Throws<InvalidOperationException>(() => ClusteredHttpRuntime.StartActors(system, options, null, () => http, http));
        Assert.Contains("enable-ssl", error.Message);
        Assert.Contains("AllowUnencryptedRemoting", error.Message);

        var allowed = ClusteredHttpRuntime.StartActors(system, options, new ClusteredCredentialsOptions { AllowUnencryptedRemoting = true }, () => http, http);
        Assert.NotNull(allowed.Tokens);
        await system.Terminate();
    }

    [Fact]
    public async Task WithClusteredCredentials_registers_the_owner_singleton_and_serves_calls_in_a_hosted_one_node_cluster()
    {
        await using var server = await SandboxServer.StartAsync();
        var (access, refresh, _) = server.Auth.IssueTokens();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddHttpRuntime(configure: o => o.Auth = new TokenOptions
        {
            RefreshEndpoint = new Uri(server.BaseAddress, "/auth/refresh"),
            AccessToken = access,
            RefreshToken = refresh,
        });
        builder.Services.AddAkka("hosted-" + Guid.NewGuid().ToString("N")[..8], akka => akka
            .AddHocon("akka.loglevel = WARNING\nakka.cluster.singleton-proxy.log-singleton-identification-failure = off", HoconAddMode.Prepend)
            .WithRemoting(new RemoteOptions { HostName = "127.0.0.1", Port = 0 })
            .WithClustering(new ClusterOptions())
            .WithClusteredCredentials());
        using var host = builder.Build();
        await host.StartAsync();

        var system = host.Services.GetRequiredService<ActorSystem>();
        var cluster = Akka.Cluster.Cluster.Get(system);
        await cluster.JoinAsync(cluster.SelfAddress).WaitAsync(TimeSpan.FromSeconds(20));

        server.Auth.ExpireAccessTokens();
        var client = host.Services.GetRequiredService<IHttpRuntimeClient>();
        using (var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Get, new Uri(server.BaseAddress, "/secure/hosted"))))
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var owner = await host.Services.GetRequiredService<IRequiredActor<CredentialOwner>>().GetAsync();
        var status = await owner.Ask<CredentialOwnerStatus>(GetCredentialOwnerStatus.Instance, TimeSpan.FromSeconds(10));
        Assert.Equal(2, status.Generation);
        Assert.Equal(1, server.Auth.RefreshesPerformed);
        Assert.Equal(0, server.Auth.ReuseEvents);
        await host.StopAsync();
    }

    private static byte[] SelfSignedCertificate(string password)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, false));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        return certificate.Export(X509ContentType.Pfx, password);
    }
}
