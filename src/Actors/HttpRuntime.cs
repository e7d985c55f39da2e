using Akka.Actor;
using Akka.Event;
using Courier.Auth;
using Courier.Requests;

namespace Courier;

/// <summary>The runtime's actors: the request coordinator, and the credential owner when authentication is configured.</summary>
/// <param name="Requests">The <see cref="RequestCoordinator"/>.</param>
/// <param name="Tokens">The <see cref="TokenActor"/>, or null without <see cref="HttpRuntimeOptions.Auth"/>.</param>
public sealed record HttpRuntimeActors(IActorRef Requests, IActorRef? Tokens)
{
    /// <summary>The <see cref="Courier.Transfers.TransferCoordinator"/> (null only for actors assembled by hand).</summary>
    public IActorRef? Transfers { get; init; }

    /// <summary>
    /// The parent of the named credentials' TokenActors (<see cref="HttpRuntimeOptions.Credentials"/>), or null when there
    /// are none. It takes their messages wrapped with the credential's name; <see cref="HttpRuntimeClient.GetAccessTokenAsync"/> asks it.
    /// </summary>
    public IActorRef? Credentials { get; init; }
}

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

    /// <summary>
    /// The name of the <see cref="HttpClient"/> the hosted runtime sends file transfers' requests through: the
    /// <see cref="HttpClientName"/> client's pipeline (its delegating handlers, its primary handler) with the primary
    /// handler's automatic decompression switched off, so that a download gets the bytes the server sent (see
    /// <see cref="Hosting.ServiceCollectionExtensions.AddHttpRuntime"/>). Configure the <see cref="HttpClientName"/> client:
    /// this one is rebuilt from it.
    /// </summary>
    public const string TransferHttpClientName = "Courier.Transfers";

    /// <summary>The name of the <see cref="HttpClient"/> the hosted TokenActor sends token requests through.</summary>
    public const string TokenHttpClientName = "Courier.Auth";

    /// <summary>The name of the <see cref="HttpClient"/> the named credential <paramref name="credential"/> sends token requests through: <c>Courier.Auth.{name}</c>.</summary>
    public static string TokenHttpClientNameFor(string credential) => TokenHttpClientName + "." + credential;

    /// <summary>
    /// Starts the runtime with every call, every transfer's request and every token request sent through
    /// <paramref name="handler"/> (which the runtime does not dispose). The handler should not follow redirects itself.
    /// Transfers then get what the handler gives: a handler that decompresses (<c>AutomaticDecompression</c>) hands a
    /// download decoded bytes, which it cannot resume with a range or check against the server's digest; give a
    /// handler without decompression, or use the overload with a transfer client source.
    /// </summary>
    public static HttpRuntimeClient Start(ActorSystem system, HttpRuntimeOptions options, HttpMessageHandler handler, string name = CoordinatorName)
    {
        ArgumentNullException.ThrowIfNull(handler);
        var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return Start(system, options, () => client, client, name);
    }

    /// <summary>Starts the runtime with every attempt sent through a client from <paramref name="clientSource"/>.</summary>
    /// <param name="system">The actor system.</param>
    /// <param name="options">The options.</param>
    /// <param name="clientSource">Gives the client for each attempt.</param>
    /// <param name="tokenClient">The client for token requests (required when <see cref="HttpRuntimeOptions.Auth"/> names an endpoint).</param>
    /// <param name="name">The coordinator's actor name.</param>
    /// <param name="transferClientSource">Gives the client for each request of a file transfer; it should not decompress
    /// (<see cref="CreatePrimaryHandler"/> with <c>decompress: false</c>). Null sends transfers through
    /// <paramref name="clientSource"/>, whose handler's decompression setting then applies.</param>
    public static HttpRuntimeClient Start(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource, HttpClient? tokenClient = null,
        string name = CoordinatorName, Func<HttpClient>? transferClientSource = null)
    {
        var actors = StartActors(system, options, clientSource, tokenClient, name, transferClientSource);
        return new HttpRuntimeClient(actors, options);
    }

    /// <summary>Starts the runtime's actors and returns them, for actor callers that send <see cref="ExecuteCall"/> themselves.</summary>
    /// <param name="system">The actor system.</param>
    /// <param name="options">The options.</param>
    /// <param name="clientSource">Gives the client for each attempt.</param>
    /// <param name="tokenClient">The client for token requests (required when <see cref="HttpRuntimeOptions.Auth"/> names an endpoint).</param>
    /// <param name="name">The coordinator's actor name.</param>
    /// <param name="transferClientSource">Gives the client for each request of a file transfer (see
    /// <see cref="Start(ActorSystem, HttpRuntimeOptions, Func{HttpClient}, HttpClient?, string, Func{HttpClient}?)"/>); null for <paramref name="clientSource"/>.</param>
    public static HttpRuntimeActors StartActors(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource,
        HttpClient? tokenClient = null, string name = CoordinatorName, Func<HttpClient>? transferClientSource = null) =>
        StartActors(system, options, clientSource, tokenClient, name, sharedLink: null, transferClientSource: transferClientSource);

    /// <summary>
    /// Starts the runtime's actors; with <paramref name="sharedLink"/> the TokenActor leaves refreshes to that link
    /// (Courier.Cluster) instead of refreshing itself, and <paramref name="store"/> is the store it writes adopted pairs to.
    /// </summary>
    internal static HttpRuntimeActors StartActors(ActorSystem system, HttpRuntimeOptions options, Func<HttpClient> clientSource,
        HttpClient? tokenClient, string name, Props? sharedLink, ITokenStore? store = null, Func<string, HttpClient>? namedTokenClient = null,
        TimeSpan? waitForOwner = null, Func<HttpClient>? transferClientSource = null)
    {
        ArgumentNullException.ThrowIfNull(system);
        WarmUpScheduler(system);
        EnsureDispatcher(system);
        var runtime = new RequestRuntime(options, clientSource, Logging.GetLogger(system, "Courier.Requests"), transferClientSource) { Telemetry = Diagnostics.CourierTelemetry.For(system) };
        IActorRef? tokens = null;
        if (options.Auth is { } auth)
        {
            HttpClient TokenClient() => tokenClient ?? throw new ArgumentNullException(nameof(tokenClient), "A token endpoint is configured: give the client for token requests.");
            var refresher = sharedLink is not null ? null : auth.Refresher ?? (auth.RefreshEndpoint is null || auth.Acquires ? null : auth.CreateRefresher(TokenClient()));
            var acquirer = sharedLink is not null ? null : auth.Acquirer ?? (auth.RefreshEndpoint is null || !auth.Acquires ? null : auth.CreateAcquirer(TokenClient()));
            var settings = TokenSettings.From(auth, refresher, runtime.DelayBeforeRetry, acquirer);
            if (sharedLink is not null) settings = settings.WithSharedLink(sharedLink, store ?? settings.Store, waitForOwner);
            settings = settings with { Snapshot = new TokenSnapshotCell() };
            tokens = system.ActorOf(TokenActor.Props(settings), name + "-tokens");
            runtime.Tokens = tokens;
            runtime.TokenSnapshot = settings.Snapshot;
        }
        IActorRef? credentials = null;
        if (options.Credentials.Count > 0)
        {
            var named = new Dictionary<string, TokenSettings>(StringComparer.OrdinalIgnoreCase);
            foreach (var (credential, credentialOptions) in options.Credentials)
            {
                HttpClient NamedClient() => namedTokenClient?.Invoke(credential) ?? tokenClient
                    ?? throw new ArgumentNullException(nameof(tokenClient), $"Courier:Credentials:{credential} names a token endpoint: give the client for token requests.");
                var refresher = credentialOptions.Refresher ?? (credentialOptions.RefreshEndpoint is null || credentialOptions.Acquires ? null : credentialOptions.CreateRefresher(NamedClient()));
                var acquirer = credentialOptions.Acquirer ?? (credentialOptions.RefreshEndpoint is null || !credentialOptions.Acquires ? null : credentialOptions.CreateAcquirer(NamedClient()));
                named[credential] = TokenSettings.From(credentialOptions, refresher, runtime.DelayBeforeRetry, acquirer, credential) with { Snapshot = new TokenSnapshotCell() };
            }
            credentials = system.ActorOf(CredentialsSupervisor.Props(named), name + "-credentials");
            foreach (var (credential, credentialOptions) in options.Credentials)
                runtime.AddCredential(credential, credentialOptions, credentials, named[credential].Snapshot);
        }
        var requests = system.ActorOf(RequestCoordinator.Props(runtime).WithDispatcher(runtime.Dispatcher), name);
        var transfers = system.ActorOf(Transfers.TransferCoordinator.Props(new Transfers.TransferRuntime(options.Transfers, runtime, requests)), name + "-transfers");
        return new HttpRuntimeActors(requests, tokens) { Transfers = transfers, Credentials = credentials };
    }

    private static readonly Akka.Configuration.Config DispatcherConfig = Akka.Configuration.ConfigurationFactory.ParseString(
        HttpRuntimeOptions.DefaultDispatcher + """
         {
          type = Dispatcher
          executor = fork-join-executor
          throughput = 30
          fork-join-executor {
            parallelism-min = 8
            parallelism-factor = 1.0
            parallelism-max = 64
          }
        }
        """);

    /// <summary>
    /// Adds the runtime's own dispatcher (<see cref="HttpRuntimeOptions.DefaultDispatcher"/>) to the system's configuration
    /// as a fallback, once: an application's HOCON that defines it wins.
    /// </summary>
    internal static void EnsureDispatcher(ActorSystem system)
    {
        if (!system.Settings.Config.HasPath(HttpRuntimeOptions.DefaultDispatcher + ".executor"))
            system.Settings.InjectTopLevelFallback(DispatcherConfig);
    }

    /// <summary>
    /// Starts the actor system's scheduler now, from this thread, before any RequestActor exists. On .NET 6+ Akka's
    /// <c>HashedWheelTimerScheduler</c> starts lazily on the first timer and blocks the calling thread until its worker,
    /// which itself needs a thread-pool thread, is running (akka.net #7130, #8549). When a burst of calls starts hundreds
    /// of RequestActors at once on a 2-core machine, every pool thread can end up blocked in that wait, and all timers
    /// (retries, timeouts) stall for the ~10 s the pool takes to inject threads. Starting it here, once, avoids the race.
    /// </summary>
    private static void WarmUpScheduler(ActorSystem system) =>
        system.Scheduler.Advanced.ScheduleOnce(TimeSpan.Zero, static () => { });

    /// <summary>
    /// The primary handler the runtime's named clients use: a <see cref="SocketsHttpHandler"/> with a pooled connection
    /// lifetime (so DNS changes are seen), automatic decompression (unless <paramref name="decompress"/> is false), no
    /// cookies unless <see cref="HttpRuntimeOptions.UseCookies"/>, and more than one HTTP/2 connection per server when one
    /// is full (<see cref="HttpRuntimeOptions.EnableMultipleHttp2Connections"/>). It does not follow redirects: the
    /// RequestActor does, so that the access token never goes to another origin.
    /// </summary>
    /// <param name="options">The runtime's options.</param>
    /// <param name="decompress">Decode gzip, deflate and brotli answers (and ask for them with <c>Accept-Encoding</c>):
    /// true for calls; false for file transfers, which must read the bytes the server sent.</param>
    public static SocketsHttpHandler CreatePrimaryHandler(HttpRuntimeOptions options, bool decompress = true) => new()
    {
        PooledConnectionLifetime = options.PooledConnectionLifetime,
        AutomaticDecompression = decompress ? System.Net.DecompressionMethods.All : System.Net.DecompressionMethods.None,
        MaxConnectionsPerServer = options.MaxConnectionsPerServer,
        AllowAutoRedirect = false,
        // Transport defaults (issue 11): no process-wide cookie container unless asked; more HTTP/2 connections past a stream limit.
        UseCookies = options.UseCookies,
        EnableMultipleHttp2Connections = options.EnableMultipleHttp2Connections,
    };

    /// <summary>
    /// Switches automatic decompression off on a primary handler that has it (a <see cref="SocketsHttpHandler"/> or an
    /// <see cref="HttpClientHandler"/>, before its first request); any other handler is left as it is. The transfer
    /// client's primary handler goes through here. A handler that has already sent (one instance the application's
    /// factory hands to every client) cannot be changed: it is left as it is too, and transfers then decompress with it.
    /// </summary>
    internal static void SwitchOffDecompression(HttpMessageHandler? primary)
    {
        try
        {
            SwitchOff(primary);
        }
        catch (InvalidOperationException)
        {
            // "This instance has already started one or more requests": a shared handler; see above.
        }
    }

    private static void SwitchOff(HttpMessageHandler? primary)
    {
        switch (primary)
        {
            case SocketsHttpHandler sockets when sockets.AutomaticDecompression != System.Net.DecompressionMethods.None:
                sockets.AutomaticDecompression = System.Net.DecompressionMethods.None;
                break;
            case HttpClientHandler client when client.AutomaticDecompression != System.Net.DecompressionMethods.None:
                client.AutomaticDecompression = System.Net.DecompressionMethods.None;
                break;
        }
    }
}
