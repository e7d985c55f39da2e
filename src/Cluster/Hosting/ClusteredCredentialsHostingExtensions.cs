using Akka.Hosting;
using Courier.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Cluster.Hosting;

/// <summary>Plugs clustered credentials into Akka.Hosting.</summary>
public static class ClusteredCredentialsHostingExtensions
{
    /// <summary>
    /// Registers <see cref="ClusteredCredentialsOptions"/>, bound from <paramref name="configuration"/> (usually the
    /// <see cref="ClusteredCredentialsOptions.SectionName"/> section, <c>Courier:Cluster</c>) then <paramref name="configure"/>,
    /// and validated when the host starts (a bad setting stops it with a message naming the key). Pair it with
    /// <see cref="Courier.Hosting.ServiceCollectionExtensions.AddHttpRuntime"/> and <see cref="WithClusteredCredentials"/>.
    /// </summary>
    /// <returns>The same services.</returns>
    public static IServiceCollection AddClusteredCredentials(this IServiceCollection services, IConfiguration? configuration = null,
        Action<ClusteredCredentialsOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<ClusteredCredentialsOptions>();
        if (configuration is not null) options.Bind(configuration);
        if (configure is not null) options.Configure(configure);
        services.AddSingleton<IValidateOptions<ClusteredCredentialsOptions>>(new ValidateMethod<ClusteredCredentialsOptions>(o => o.Validate()));
        options.ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Starts the runtime like <see cref="Courier.Hosting.AkkaHostingExtensions.WithHttpRuntime"/> (use it instead of
    /// that call, not beside it; the same actors are registered, the <see cref="Courier.Transfers.TransferCoordinator"/>
    /// included), with one credential shared by the cluster: the refresh owner runs as a cluster singleton, every node's
    /// TokenActor serves from its cache and leaves refreshes to it, and the pair is replicated with Akka.DistributedData.
    /// Each node starts ONE proxy of the owner, which is in the <see cref="ActorRegistry"/> under <see cref="CredentialOwner"/>.
    /// The cluster itself (<c>WithRemoting</c>, <c>WithClustering</c>, a split-brain resolver) is the application's to configure.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="clustered">The cluster settings; null takes the ones registered by <see cref="AddClusteredCredentials"/>
    /// (<c>Courier:Cluster</c>), or the defaults.</param>
    /// <param name="options">Runtime options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithClusteredCredentials(this AkkaConfigurationBuilder builder,
        ClusteredCredentialsOptions? clustered = null, HttpRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        clustered?.Validate();
        return builder.WithRuntime(nameof(WithClusteredCredentials), options, start =>
        {
            var settings = clustered ?? start.Services.GetService<IOptions<ClusteredCredentialsOptions>>()?.Value ?? new ClusteredCredentialsOptions();
            var node = NodeCredentials.Create(start.Options, settings, start.TokenClient);
            var started = node.Start(start.System, start.Options, start.ClientSource, start.TokenClient, HttpRuntime.CoordinatorName);
            start.Registry.Register<CredentialOwner>(started.OwnerProxy);
            return started.Actors;
        });
    }
}
