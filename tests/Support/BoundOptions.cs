using Courier.Cluster;
using Courier.Cluster.Hosting;
using Courier.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Tests.Support;

/// <summary>
/// Options as an application gets them: the settings in an in-memory configuration, bound by the registration the
/// application calls, resolved through <see cref="IOptions{TOptions}"/>.
/// </summary>
internal static class BoundOptions
{
    /// <summary>What <c>AddHttpRuntime(configuration.GetSection("Courier"))</c> binds from <paramref name="settings"/>.</summary>
    public static HttpRuntimeOptions HttpRuntime(Dictionary<string, string?> settings) =>
        Bind<HttpRuntimeOptions>(settings, (services, configuration) => services.AddHttpRuntime(configuration.GetSection("Courier")));

    /// <summary>What <c>AddClusteredCredentials</c> binds from <paramref name="settings"/> (section <see cref="ClusteredCredentialsOptions.SectionName"/>).</summary>
    public static ClusteredCredentialsOptions ClusteredCredentials(Dictionary<string, string?> settings) =>
        Bind<ClusteredCredentialsOptions>(settings,
            (services, configuration) => services.AddClusteredCredentials(configuration.GetSection(ClusteredCredentialsOptions.SectionName)));

    private static TOptions Bind<TOptions>(Dictionary<string, string?> settings, Action<IServiceCollection, IConfiguration> register)
        where TOptions : class
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        var services = new ServiceCollection();
        register(services, configuration);
        using var provider = services.BuildServiceProvider();
        return provider.GetRequiredService<IOptions<TOptions>>().Value;
    }
}
