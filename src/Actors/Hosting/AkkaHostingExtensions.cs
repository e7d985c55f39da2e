using Akka.Event;
using Akka.Hosting;
using Courier.Requests;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Courier.Hosting;

/// <summary>Plugs the runtime into Akka.Hosting.</summary>
public static class AkkaHostingExtensions
{
    /// <summary>
    /// Starts the runtime's actors when the actor system starts and registers the coordinator in the
    /// <see cref="ActorRegistry"/> under <see cref="RequestCoordinator"/> (and the credential owner under
    /// <see cref="Auth.TokenActor"/> when <see cref="HttpRuntimeOptions.Auth"/> is set). Calls go through the named client from
    /// <see cref="IHttpClientFactory"/> registered by <see cref="ServiceCollectionExtensions.AddHttpRuntime"/>.
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="options">Options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithHttpRuntime(this AkkaConfigurationBuilder builder, HttpRuntimeOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.WithActors((system, registry, resolver) =>
        {
            var effective = options ?? resolver.GetService<IOptions<HttpRuntimeOptions>>().Value;
            var factory = resolver.GetService<IHttpClientFactory>()
                ?? throw new InvalidOperationException("WithHttpRuntime needs IHttpClientFactory: call services.AddHttpRuntime(...) first.");
            Diagnostics.CourierTelemetry.Install(system, resolver.GetService<IMeterFactory>(), resolver.GetService<ILoggerFactory>());
            var actors = HttpRuntime.StartActors(system, effective, () => factory.CreateClient(HttpRuntime.HttpClientName),
                factory.CreateClient(HttpRuntime.TokenHttpClientName));
            if (actors.Tokens is not null) registry.Register<Auth.TokenActor>(actors.Tokens);
            if (actors.Transfers is not null) registry.Register<Transfers.TransferCoordinator>(actors.Transfers);
            registry.Register<RequestCoordinator>(actors.Requests);
        });
    }
}
