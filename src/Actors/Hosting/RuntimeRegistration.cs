using Akka.Actor;
using Akka.Hosting;
using Courier.Requests;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Hosting;

/// <summary>What a hosting extension needs to start the runtime's actors (resolved once, on the path every extension shares).</summary>
/// <param name="System">The actor system.</param>
/// <param name="Registry">The actor registry.</param>
/// <param name="Services">The application's services.</param>
/// <param name="Options">The effective runtime options.</param>
/// <param name="ClientSource">Gives the named client (<see cref="HttpRuntime.HttpClientName"/>) for each attempt.</param>
/// <param name="TokenClient">The named client for token requests (<see cref="HttpRuntime.TokenHttpClientName"/>).</param>
/// <param name="NamedTokenClient">The token client of a named credential (<see cref="HttpRuntime.TokenHttpClientNameFor"/>).</param>
/// <param name="TransferClientSource">Gives the named client for each request of a transfer (<see cref="HttpRuntime.TransferHttpClientName"/>).</param>
internal sealed record RuntimeStart(ActorSystem System, IActorRegistry Registry, IServiceProvider Services, HttpRuntimeOptions Options,
    Func<HttpClient> ClientSource, HttpClient TokenClient, Func<string, HttpClient> NamedTokenClient, Func<HttpClient> TransferClientSource);

/// <summary>
/// The one registration path of the hosting extensions (<see cref="AkkaHostingExtensions.WithHttpRuntime"/> and Courier.Cluster's
/// <c>WithClusteredCredentials</c>): resolve the options and the named clients, start the actors, and register every one
/// of them in the <see cref="ActorRegistry"/> (coordinator, transfer coordinator, TokenActor). A second extension that
/// starts the runtime differently (clustered credentials) changes only how the actors start, never what is registered.
/// </summary>
internal static class RuntimeRegistration
{
    public static AkkaConfigurationBuilder WithRuntime(this AkkaConfigurationBuilder builder, string extension, HttpRuntimeOptions? options,
        Func<RuntimeStart, HttpRuntimeActors> start)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithActors((system, registry, resolver) =>
        {
            var services = resolver.GetService<IServiceProvider>();
            var effective = options ?? services.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value;
            var factory = services.GetService<IHttpClientFactory>()
                ?? throw new InvalidOperationException($"{extension} needs IHttpClientFactory: call services.AddHttpRuntime(...) first.");
            // Meters from the host's IMeterFactory and logs through its ILoggerFactory, before any actor measures or logs.
            Diagnostics.CourierTelemetry.Install(system, services.GetService<System.Diagnostics.Metrics.IMeterFactory>(),
                services.GetService<Microsoft.Extensions.Logging.ILoggerFactory>());
            var actors = start(new RuntimeStart(system, registry, services, effective, () => factory.CreateClient(HttpRuntime.HttpClientName),
                factory.CreateClient(HttpRuntime.TokenHttpClientName), credential => factory.CreateClient(HttpRuntime.TokenHttpClientNameFor(credential)),
                () => factory.CreateClient(HttpRuntime.TransferHttpClientName)));
            Register(registry, actors);
        });
    }

    /// <summary>Registers every actor of the runtime; the coordinator last, since the facade waits for it before it looks up the others.</summary>
    public static void Register(IActorRegistry registry, HttpRuntimeActors actors)
    {
        if (actors.Tokens is not null) registry.Register<Auth.TokenActor>(actors.Tokens);
        if (actors.Transfers is not null) registry.Register<Transfers.TransferCoordinator>(actors.Transfers);
        if (actors.Credentials is not null) registry.Register<Auth.CredentialsSupervisor>(actors.Credentials);
        registry.Register<RequestCoordinator>(actors.Requests);
    }
}
