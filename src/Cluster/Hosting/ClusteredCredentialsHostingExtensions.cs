using Akka.Cluster.Hosting;
using Akka.Hosting;
using Courier.Requests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Cluster.Hosting;

/// <summary>Plugs clustered credentials into Akka.Hosting.</summary>
public static class ClusteredCredentialsHostingExtensions
{
    /// <summary>
    /// Starts the runtime like <see cref="Courier.Hosting.AkkaHostingExtensions.WithHttpRuntime"/> (use it instead of
    /// that call, not beside it), with one credential shared by the cluster: the refresh owner runs as a cluster singleton
    /// (registered with <c>WithSingleton</c>; its proxy is in the <see cref="ActorRegistry"/> under
    /// <see cref="CredentialOwner"/>), every node's TokenActor serves from its cache and leaves refreshes to it, and the pair
    /// is replicated with Akka.DistributedData. The cluster itself (<c>WithRemoting</c>, <c>WithClustering</c>, a
    /// split-brain resolver) is the application's to configure.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="clustered">The cluster settings, or null for the defaults.</param>
    /// <param name="options">Runtime options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithClusteredCredentials(this AkkaConfigurationBuilder builder,
        ClusteredCredentialsOptions? clustered = null, HttpRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        clustered ??= new ClusteredCredentialsOptions();
        clustered.Validate();

        // The singleton's props and the runtime are built from one NodeCredentials, so that they share this node's store.
        NodeCredentials? node = null;
        NodeCredentials Node(IServiceProvider resolver)
        {
            if (node is not null) return node;
            var effective = options ?? resolver.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value;
            var factory = resolver.GetService<IHttpClientFactory>()
                ?? throw new InvalidOperationException("WithClusteredCredentials needs IHttpClientFactory: call services.AddHttpRuntime(...) first.");
            return node = NodeCredentials.Create(effective, clustered, factory.CreateClient(HttpRuntime.TokenHttpClientName));
        }

        builder.WithSingleton<CredentialOwner>(clustered.SingletonName,
            (_, _, resolver) => Node(resolver.GetService<IServiceProvider>()).OwnerProps(),
            new ClusterSingletonOptions { Role = clustered.Role, TerminationMessage = StopCredentialOwner.Instance },
            createProxyToo: true);

        return builder.WithActors((system, registry, resolver) =>
        {
            var services = resolver.GetService<IServiceProvider>();
            var effective = options ?? services.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value;
            var factory = services.GetRequiredService<IHttpClientFactory>();
            Diagnostics.CourierTelemetry.Install(system, services.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
                services.GetService<Microsoft.Extensions.Logging.ILoggerFactory>());
            var actors = Node(services).StartRuntime(system, effective, () => factory.CreateClient(HttpRuntime.HttpClientName),
                factory.CreateClient(HttpRuntime.TokenHttpClientName), HttpRuntime.CoordinatorName);
            if (actors.Tokens is not null) registry.Register<Auth.TokenActor>(actors.Tokens);
            registry.Register<RequestCoordinator>(actors.Requests);
        });
    }
}
