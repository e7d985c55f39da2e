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
    /// <see cref="Courier.Hosting.ServiceCollectionExtensions.AddHttpRuntime"/> and <see cref="WithClusteredCredentials(AkkaConfigurationBuilder, ClusteredCredentialsOptions?, HttpRuntimeOptions?)"/>.
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
    /// <remarks>
    /// With <see cref="ClusteredCredentialsOptions.Bootstrap"/> set (<c>Courier:Cluster:Bootstrap</c>), the node also joins
    /// through Akka.Management's Cluster Bootstrap (<see cref="FleetBootstrap"/>): its settings go in front of the actor
    /// system's configuration, and Akka.Management and the bootstrap start with the system. The actor system is created
    /// before the registered options are read, so a bootstrap must come with the options: pass them, or use the
    /// <see cref="WithClusteredCredentials(AkkaConfigurationBuilder, IServiceProvider, HttpRuntimeOptions?)"/> overload.
    /// </remarks>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="clustered">The cluster settings; null takes the ones registered by <see cref="AddClusteredCredentials"/>
    /// (<c>Courier:Cluster</c>, without <c>Bootstrap</c>), or the defaults.</param>
    /// <param name="options">Runtime options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithClusteredCredentials(this AkkaConfigurationBuilder builder,
        ClusteredCredentialsOptions? clustered = null, HttpRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        clustered?.Validate();
        if (clustered?.Bootstrap is { } bootstrap)
        {
            builder.AddHocon(FleetBootstrap.Config(bootstrap), HoconAddMode.Prepend);
            builder.AddStartup((system, _) => FleetBootstrap.StartAsync(system));
        }
        return builder.WithRuntime(nameof(WithClusteredCredentials), options, start =>
        {
            var settings = clustered ?? start.Services.GetService<IOptions<ClusteredCredentialsOptions>>()?.Value ?? new ClusteredCredentialsOptions();
            if (clustered is null && settings.Bootstrap is not null)
                throw new InvalidOperationException(
                    $"{BootstrapOptions.SectionName} is configured, but WithClusteredCredentials() was called without options and the actor system " +
                    "is already created: use AddAkka(name, (akka, services) => akka.WithClusteredCredentials(services)).");
            var node = NodeCredentials.Create(start.Options, settings, start.TokenClient);
            var started = node.Start(start.System, start.Options, start.ClientSource, start.TokenClient, HttpRuntime.CoordinatorName,
                start.TransferClientSource);
            start.Registry.Register<CredentialOwner>(started.OwnerProxy);
            return started.Actors;
        });
    }

    /// <summary>
    /// <see cref="WithClusteredCredentials(AkkaConfigurationBuilder, ClusteredCredentialsOptions?, HttpRuntimeOptions?)"/>
    /// with the options registered by <see cref="AddClusteredCredentials"/> (<c>Courier:Cluster</c>), read and validated
    /// now, while the actor system's configuration is built: the form to use with <c>Courier:Cluster:Bootstrap</c>, in
    /// <c>AddAkka(name, (akka, services) =&gt; akka.WithClusteredCredentials(services))</c>.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="services">The application's services (the second argument of <c>AddAkka</c>'s callback).</param>
    /// <param name="options">Runtime options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    /// <exception cref="OptionsValidationException">A <c>Courier:Cluster</c> setting is invalid (the message names it).</exception>
    public static AkkaConfigurationBuilder WithClusteredCredentials(this AkkaConfigurationBuilder builder, IServiceProvider services,
        HttpRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        return builder.WithClusteredCredentials(services.GetRequiredService<IOptions<ClusteredCredentialsOptions>>().Value, options);
    }
}
