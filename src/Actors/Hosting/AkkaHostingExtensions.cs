using Akka.Hosting;
using Courier.Requests;

namespace Courier.Hosting;

/// <summary>Plugs the runtime into Akka.Hosting.</summary>
public static class AkkaHostingExtensions
{
    /// <summary>
    /// Starts the runtime's actors when the actor system starts and registers the coordinator in the
    /// <see cref="ActorRegistry"/> under <see cref="RequestCoordinator"/>, the transfer coordinator under
    /// <see cref="Transfers.TransferCoordinator"/>, and the credential owner under <see cref="Auth.TokenActor"/> when
    /// <see cref="HttpRuntimeOptions.Auth"/> is set. Calls go through the named client from
    /// <see cref="IHttpClientFactory"/> registered by <see cref="ServiceCollectionExtensions.AddHttpRuntime"/>, file
    /// transfers through its copy without automatic decompression (<see cref="HttpRuntime.TransferHttpClientName"/>).
    /// </summary>
    /// <param name="builder">The Akka configuration builder.</param>
    /// <param name="options">Options to use instead of the ones registered in DI.</param>
    /// <returns>The same builder.</returns>
    public static AkkaConfigurationBuilder WithHttpRuntime(this AkkaConfigurationBuilder builder, HttpRuntimeOptions? options = null) =>
        builder.WithRuntime(nameof(WithHttpRuntime), options,
            start => HttpRuntime.StartActors(start.System, start.Options, start.ClientSource, start.TokenClient, HttpRuntime.CoordinatorName,
                sharedLink: null, namedTokenClient: start.NamedTokenClient, transferClientSource: start.TransferClientSource));
}
