using Akka.Actor;
using Akka.Event;
using Courier.Requests;

namespace Courier;

/// <summary>
/// Starts the runtime's actors on an <see cref="ActorSystem"/> without Akka.Hosting: for tests, benchmarks and
/// programs that manage their own actor system. Hosted applications use
/// <see cref="Hosting.AkkaHostingExtensions.WithHttpRuntime"/> instead.
/// </summary>
public static class HttpRuntime
{
    /// <summary>The default name of the coordinator actor.</summary>
    public const string CoordinatorName = "courier-requests";

    /// <summary>The name of the <see cref="HttpClient"/> the hosted runtime takes from <see cref="IHttpClientFactory"/>.</summary>
    public const string HttpClientName = "Courier";

    /// <summary>Starts the runtime with every call sent through <paramref name="handler"/> (which the runtime does not dispose).</summary>
    public static HttpRuntimeClient Start(ActorSystem system, HttpRuntimeOptions options, HttpMessageHandler handler, string name = CoordinatorName)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return Start(system, options, () => client, name);
    }

    /// <summary>Starts the runtime with every attempt sent through a client from <paramref name="clientSource"/>.</summary>
    public static HttpRuntimeClient Start(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource, string name = CoordinatorName)
    {
        var coordinator = StartCoordinator(system, options, clientSource, name);
        return new HttpRuntimeClient(coordinator, options);
    }

    /// <summary>Starts the coordinator actor and returns it, for actor callers that send <see cref="ExecuteCall"/> themselves.</summary>
    public static IActorRef StartCoordinator(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource, string name = CoordinatorName)
    {
        ArgumentNullException.ThrowIfNull(system);
        var runtime = new RequestRuntime(options, clientSource, Logging.GetLogger(system, "Courier.Requests"));
        return system.ActorOf(RequestCoordinator.Props(runtime), name);
    }

    /// <summary>
    /// The primary handler the runtime's named client uses: a <see cref="SocketsHttpHandler"/> with a pooled connection
    /// lifetime (so DNS changes are seen) and automatic decompression.
    /// </summary>
    public static SocketsHttpHandler CreatePrimaryHandler(HttpRuntimeOptions options) => new()
    {
        PooledConnectionLifetime = options.PooledConnectionLifetime,
        AutomaticDecompression = System.Net.DecompressionMethods.All,
        MaxConnectionsPerServer = options.MaxConnectionsPerServer,
        // Redirects are followed by the handler; it drops Authorization on a cross-origin redirect.
        AllowAutoRedirect = true,
    };
}
