using Courier.Requests;

namespace Courier;

/// <summary>
/// Settings of the HTTP runtime. Bound from the configuration section <c>Courier</c> by
/// <see cref="Hosting.ServiceCollectionExtensions.AddHttpRuntime"/>; every property documents its default.
/// Values are copied when the runtime starts.
/// </summary>
public sealed class HttpRuntimeOptions
{
    /// <summary>The configuration section the options bind from.</summary>
    public const string SectionName = "Courier";

    /// <summary>Base address for relative URLs given to the client facade.</summary>
    /// <value>The default value is <see langword="null"/>: only absolute URLs are accepted.</value>
    public Uri? BaseAddress { get; set; }

    /// <summary>The id of the dispatcher the runtime's own library dispatcher is configured under (see <see cref="Dispatcher"/>).</summary>
    public const string DefaultDispatcher = "courier.request-dispatcher";

    /// <summary>
    /// The Akka dispatcher the request coordinator and the RequestActors run on. The default is a dispatcher of the
    /// runtime's own (a fork-join executor: 8 dedicated threads, or one per core where there are more), added to the actor
    /// system's configuration as a fallback when the runtime starts, as Akka.Remote runs on a dispatcher of its own: the
    /// actors then do not queue behind the thread pool's socket and continuation work (at 256 calls in flight on 2 cores,
    /// 0.91 to 1.02 of a raw HttpClient's calls per second and a p99 of 1.05 to 1.27 × its own, against 0.76 to 0.90 and
    /// 1.35 to 1.63 × on the default dispatcher, bench/RESULTS.md). Set <c>akka.actor.default-dispatcher</c> to share
    /// the application's dispatcher instead, or the id of one configured in HOCON.
    /// </summary>
    /// <value>The default value is <see cref="DefaultDispatcher"/>.</value>
    public string Dispatcher { get; set; } = DefaultDispatcher;

    /// <summary>The most calls in flight (sending) at once; more wait in a queue. A call waiting for its host (a pause, a full window, a rate) does not count.</summary>
    /// <value>The default value is 256.</value>
    public int MaxConcurrentCalls { get; set; } = 256;

    /// <summary>
    /// The most calls waiting without a slot: behind <see cref="MaxConcurrentCalls"/>, or for their host after giving their
    /// slot up; past it a new call fails at once with a queue-full error (and a call waiting for its host keeps its slot).
    /// </summary>
    /// <value>The default value is 10,000.</value>
    public int MaxQueuedCalls { get; set; } = 10_000;

    /// <summary>How long one attempt may take, from sending to the end of the buffered response.</summary>
    /// <value>The default value is 15 s.</value>
    public TimeSpan AttemptTimeout { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>How long a whole call may take, queueing, attempts and retry delays included.</summary>
    /// <value>The default value is 60 s.</value>
    public TimeSpan CallDeadline { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How much of an error response's body is kept in <see cref="Errors.HttpStatusException.ResponseBody"/>.</summary>
    /// <value>The default value is 4,096 bytes.</value>
    public int MaxErrorBodyBytes { get; set; } = 4096;

    /// <summary>How long a pooled connection lives before it is replaced (so DNS changes are seen).</summary>
    /// <value>The default value is 5 minutes.</value>
    public TimeSpan PooledConnectionLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>The most connections per server the primary handler opens.</summary>
    /// <value>The default value is <see cref="int.MaxValue"/> (unlimited; <see cref="MaxConcurrentCalls"/> bounds it).</value>
    public int MaxConnectionsPerServer { get; set; } = int.MaxValue;

    /// <summary>
    /// How many redirects a call follows. The runtime follows them itself (its primary handler does not), so that the
    /// access token is only ever sent to the origin of the call's URL. 0 returns the 3xx to the caller as an error.
    /// </summary>
    /// <value>The default value is 10.</value>
    public int MaxRedirects { get; set; } = 10;

    // ---- transport (issue 11) ---------------------------------------------------------------------------------

    /// <summary>
    /// The HTTP version attempts ask for, unless the call says otherwise (<see cref="HttpCall.Version"/>). With the default
    /// policy, HTTP/2 is used where the server offers it over TLS (ALPN) and HTTP/1.1 elsewhere.
    /// </summary>
    /// <value>The default value is 2.0.</value>
    public Version HttpVersion { get; set; } = System.Net.HttpVersion.Version20;

    /// <summary>How <see cref="HttpVersion"/> is negotiated.</summary>
    /// <value>The default value is <see cref="System.Net.Http.HttpVersionPolicy.RequestVersionOrLower"/>: HTTP/2 over https when offered, else HTTP/1.1 (plain http stays on 1.1).</value>
    public HttpVersionPolicy HttpVersionPolicy { get; set; } = HttpVersionPolicy.RequestVersionOrLower;

    /// <summary>
    /// Speak HTTP/2 without TLS (h2c, "prior knowledge") to loopback servers on plain http: for sidecars and tests. Off, plain
    /// http uses HTTP/1.1.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Http2PriorKnowledgeOnLoopback { get; set; }

    /// <summary>Let the primary handler open more HTTP/2 connections to a server when one reaches its stream limit.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool EnableMultipleHttp2Connections { get; set; } = true;

    /// <summary>
    /// Keep cookies in the primary handler. Off by default: the pooled handler is shared by every caller of the process,
    /// so one cookie container would carry one caller's session cookies into another's calls.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool UseCookies { get; set; }
    /// <summary>
    /// How many times one call is sent again after the server refused its access token (a status in
    /// <see cref="Auth.TokenOptions.TriggerStatusCodes"/>). The first refusal asks the TokenActor to refresh (unless the
    /// credentials already moved on); a later one is retried only with a newer generation than the one refused, so a
    /// server that refuses every token ends the call instead of looping. 0 fails a call at its first refusal.
    /// </summary>
    /// <value>The default value is 3.</value>
    public int MaxRefreshesPerCall { get; set; } = 3;

    /// <summary>Authentication: when set, a TokenActor owns the credentials and calls carry its access token.</summary>
    /// <value>The default value is <see langword="null"/> (calls go out without tokens).</value>
    public Auth.TokenOptions? Auth { get; set; }

    /// <summary>The retry policy.</summary>
    public RetryOptions Retry { get; set; } = new();

    /// <summary>
    /// Named credentials (configuration <c>Courier:Credentials:{name}</c>), each owned by its own TokenActor with its own
    /// refresh, store, token client (<c>Courier.Auth.{name}</c>) and events; a call names the one it uses
    /// (<see cref="Requests.HttpCall.Credential"/>). <see cref="Auth"/> stays the default credential. Names are
    /// case-insensitive and made of letters, digits, <c>-</c>, <c>_</c> and <c>.</c>.
    /// </summary>
    /// <value>The default value is an empty dictionary.</value>
    public IDictionary<string, Auth.TokenOptions> Credentials { get; set; } = new Dictionary<string, Auth.TokenOptions>(StringComparer.OrdinalIgnoreCase);

    /// <summary>The client-wide retry budget.</summary>
    public RetryBudgetOptions RetryBudget { get; set; } = new();

    /// <summary>
    /// Per-host politeness (section <c>Courier:Hosts</c>): the pause a host names with <c>Retry-After</c>, an adaptive
    /// window and rate per host, a client-side rate limit per host, a circuit breaker per host.
    /// </summary>
    public Requests.Hosts.HostPolicyOptions Hosts { get; set; } = new();

    /// <summary>File transfers (downloads, multipart and tus uploads): concurrency cap, chunk size, progress, retries.</summary>
    public Transfers.TransferOptions Transfers { get; set; } = new();

    internal static bool IsCredentialName(string? name) =>
        !string.IsNullOrEmpty(name) && name.Length <= 100 && name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.');

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (MaxConcurrentCalls < 1) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentCalls), MaxConcurrentCalls, "Courier:MaxConcurrentCalls must be at least 1.");
        if (string.IsNullOrWhiteSpace(Dispatcher)) throw new ArgumentException("Courier:Dispatcher must name an Akka dispatcher (the default is " + DefaultDispatcher + ").", nameof(Dispatcher));
        if (MaxQueuedCalls < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueuedCalls), MaxQueuedCalls, "Courier:MaxQueuedCalls must not be negative.");
        if (AttemptTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(AttemptTimeout), AttemptTimeout, "Courier:AttemptTimeout must be positive.");
        if (CallDeadline <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(CallDeadline), CallDeadline, "Courier:CallDeadline must be positive.");
        if (MaxErrorBodyBytes < 0) throw new ArgumentOutOfRangeException(nameof(MaxErrorBodyBytes), MaxErrorBodyBytes, "Courier:MaxErrorBodyBytes must not be negative.");
        if (BaseAddress is { IsAbsoluteUri: false }) throw new ArgumentException("Courier:BaseAddress must be an absolute URL.", nameof(BaseAddress));
        ArgumentNullException.ThrowIfNull(Retry, "Courier:Retry");
        ArgumentNullException.ThrowIfNull(RetryBudget, "Courier:RetryBudget");
        if (MaxRedirects is < 0 or > 50) throw new ArgumentOutOfRangeException(nameof(MaxRedirects), MaxRedirects, "Courier:MaxRedirects must be between 0 and 50.");
        ArgumentNullException.ThrowIfNull(HttpVersion, "Courier:HttpVersion");
        if (HttpVersion.Major is < 1 or > 3) throw new ArgumentOutOfRangeException(nameof(HttpVersion), HttpVersion, "Courier:HttpVersion must be 1.0, 1.1, 2.0 or 3.0.");
        if (MaxRefreshesPerCall is < 0 or > 10) throw new ArgumentOutOfRangeException(nameof(MaxRefreshesPerCall), MaxRefreshesPerCall, "Courier:MaxRefreshesPerCall must be between 0 and 10.");
        Retry.Validate();
        Auth?.Validate();
        ArgumentNullException.ThrowIfNull(Credentials, "Courier:Credentials");
        foreach (var (name, credential) in Credentials)
        {
            if (!IsCredentialName(name))
                throw new ArgumentException($"Courier:Credentials:{name}: a credential name is made of letters, digits, '-', '_' and '.'.", nameof(Credentials));
            if (credential is null) throw new ArgumentException($"Courier:Credentials:{name} is empty.", nameof(Credentials));
            credential.Validate($"Courier:Credentials:{name}");
        }
        RetryBudget.Validate();
        ArgumentNullException.ThrowIfNull(Transfers, "Courier:Transfers");
        Transfers.Validate();
        ArgumentNullException.ThrowIfNull(Hosts, "Courier:Hosts");
        Hosts.Validate();
    }
}
