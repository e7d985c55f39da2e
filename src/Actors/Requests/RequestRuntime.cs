using System.Collections.Frozen;
using Akka.Actor;
using Akka.Event;
using Courier.Diagnostics;
using Microsoft.Extensions.Logging;

namespace Courier.Requests;

/// <summary>
/// What every RequestActor of one runtime shares: the settings (copied at start, so a running call never sees them
/// change), the HTTP client source, the retry budget, the logger and the credential owner.
/// </summary>
internal sealed class RequestRuntime
{
    public RequestRuntime(HttpRuntimeOptions options, Func<HttpClient> clientSource, ILoggingAdapter log, Func<HttpClient>? transferClientSource = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ClientSource = clientSource ?? throw new ArgumentNullException(nameof(clientSource));
        TransferClientSource = transferClientSource ?? clientSource;
        Log = log;
        MaxConcurrentCalls = options.MaxConcurrentCalls;
        Dispatcher = options.Dispatcher;
        MaxQueuedCalls = options.MaxQueuedCalls;
        AttemptTimeout = options.AttemptTimeout;
        CallDeadline = options.CallDeadline;
        MaxErrorBodyBytes = options.MaxErrorBodyBytes;
        var retry = options.Retry;
        MaxRetries = retry.MaxRetries;
        BaseDelay = retry.BaseDelay;
        BackoffFactor = retry.BackoffFactor;
        MaxDelay = retry.MaxDelay;
        Jitter = retry.Jitter;
        MaxJitter = retry.MaxJitter;
        MaxRetryAfter = retry.MaxRetryAfter;
        RetryStatusCodes = retry.EffectiveRetryStatusCodes.ToFrozenSet();
        RetryNonIdempotentMethods = retry.RetryNonIdempotentMethods;
        AddIdempotencyKeys = retry.AddIdempotencyKeys;
        Hosts = new Hosts.HostPolicies(options.Hosts, options.MaxConcurrentCalls, retry.MaxRetryAfter);
        PauseHosts = options.Hosts.PauseOnRetryAfter;
        ReadRateLimitHeaders = options.Hosts.UseRateLimitHeaders;
        Randomizer = retry.Randomizer;
        Budget = new RetryBudget(options.RetryBudget);
        MaxRedirects = options.MaxRedirects;
        HttpVersion = options.HttpVersion;
        HttpVersionPolicy = options.HttpVersionPolicy;
        Http2PriorKnowledgeOnLoopback = options.Http2PriorKnowledgeOnLoopback;
        MaxRefreshesPerCall = options.MaxRefreshesPerCall;
        if (options.Auth is { } auth)
        {
            TokenHeader = auth.HeaderName;
            TokenScheme = string.IsNullOrWhiteSpace(auth.Scheme) ? null : auth.Scheme.Trim();
            TriggerStatusCodes = auth.EffectiveTriggerStatusCodes.ToFrozenSet();
        }
    }

    /// <summary>Gives the client for each attempt of an ordinary call (automatic decompression on).</summary>
    public Func<HttpClient> ClientSource { get; }

    /// <summary>
    /// Gives the client for each attempt of a transfer's call (<see cref="HttpCall.IsTransfer"/>): the same pipeline without
    /// automatic decompression, so that a download reads, resumes and verifies the bytes the server sent. Without one of its
    /// own it is <see cref="ClientSource"/>, and the decompression setting of that client's handler applies.
    /// </summary>
    public Func<HttpClient> TransferClientSource { get; }
    public ILoggingAdapter Log { get; }

    /// <summary>Instruments and loggers: the host's when it installed them (<see cref="CourierTelemetry.Install"/>).</summary>
    public CourierTelemetry Telemetry { get; init; } = CourierTelemetry.Default;

    private ILogger? _logger;

    /// <summary>
    /// The logger of the request path: category <c>Courier.Requests</c> from the host's logger factory, or, without one,
    /// Akka's logging (<see cref="Log"/>) as before.
    /// </summary>
    public ILogger Logger => _logger ??= Telemetry.Requests ?? new AkkaLogger(Log);
    public RetryBudget Budget { get; }
    public int MaxConcurrentCalls { get; }

    /// <summary>The dispatcher of the coordinator and its RequestActors (<see cref="HttpRuntimeOptions.Dispatcher"/>).</summary>
    public string Dispatcher { get; init; } = HttpRuntimeOptions.DefaultDispatcher;

    public int MaxQueuedCalls { get; }
    public TimeSpan AttemptTimeout { get; }
    public TimeSpan CallDeadline { get; }
    public int MaxErrorBodyBytes { get; }
    public int MaxRetries { get; }
    public TimeSpan BaseDelay { get; }
    public double BackoffFactor { get; }
    public TimeSpan MaxDelay { get; }
    public JitterMode Jitter { get; }
    public TimeSpan MaxJitter { get; }
    public TimeSpan MaxRetryAfter { get; }
    public FrozenSet<int> RetryStatusCodes { get; }
    public bool RetryNonIdempotentMethods { get; }
    public bool AddIdempotencyKeys { get; }

    /// <summary>
    /// The per-host politeness table, built from <c>Courier:Hosts</c> when the runtime starts. Only the coordinator
    /// touches it (from its receive), through its <see cref="Hosts.HostGate"/>.
    /// </summary>
    public Hosts.HostPolicies Hosts { get; }

    /// <summary>Does a throttle (429, 503 with <c>Retry-After</c>) pause its host for every call (<c>Hosts:PauseOnRetryAfter</c>)?</summary>
    public bool PauseHosts { get; }

    /// <summary>Are the rate-limit fields of each response read for its host's state (<c>Hosts:UseRateLimitHeaders</c>)?</summary>
    public bool ReadRateLimitHeaders { get; }
    public Func<double> Randomizer { get; }

    public int MaxRedirects { get; }

    public Version HttpVersion { get; }
    public HttpVersionPolicy HttpVersionPolicy { get; }
    public bool Http2PriorKnowledgeOnLoopback { get; }

    /// <summary>The version and policy of an attempt to <paramref name="uri"/>: the call's own, else the runtime's (h2c on loopback when asked).</summary>
    public (Version Version, HttpVersionPolicy Policy) VersionFor(HttpCall call, Uri uri)
    {
        if (call.Version is { } version) return (version, call.VersionPolicy ?? HttpVersionPolicy);
        if (Http2PriorKnowledgeOnLoopback && uri.Scheme == Uri.UriSchemeHttp && uri.IsLoopback)
            return (System.Net.HttpVersion.Version20, System.Net.Http.HttpVersionPolicy.RequestVersionExact);
        return (HttpVersion, call.VersionPolicy ?? HttpVersionPolicy);
    }
    public int MaxRefreshesPerCall { get; }

    /// <summary>The credential owner (a TokenActor), or null when calls go out without tokens.</summary>
    public IActorRef? Tokens { get; set; }

    /// <summary>Where the default credential's TokenActor publishes its current token (<see cref="Auth.TokenSnapshot"/>).</summary>
    public Auth.TokenSnapshotCell? TokenSnapshot { get; set; }

    /// <summary>The header the access token goes in.</summary>
    public string TokenHeader { get; } = "Authorization";

    /// <summary>The scheme before the token, or null for a bare token.</summary>
    public string? TokenScheme { get; } = "Bearer";

    /// <summary>Statuses that mean "the access token was refused".</summary>
    public FrozenSet<int> TriggerStatusCodes { get; } = FrozenSet<int>.Empty;

    private readonly Dictionary<string, CredentialRoute> _named = new(StringComparer.OrdinalIgnoreCase);
    private CredentialRoute? _default;

    /// <summary>Adds the route of the named credential <paramref name="name"/>, whose TokenActor is a child of <paramref name="supervisor"/>.</summary>
    public void AddCredential(string name, Auth.TokenOptions options, IActorRef supervisor, Auth.TokenSnapshotCell? snapshot = null) =>
        _named[name] = new CredentialRoute(name, supervisor, options.HeaderName,
            string.IsNullOrWhiteSpace(options.Scheme) ? null : options.Scheme.Trim(), options.EffectiveTriggerStatusCodes.ToFrozenSet()) { Snapshot = snapshot };

    /// <summary>Is <see cref="HttpCall.Credential"/> of this call one this runtime has (null, the default, always is)?</summary>
    public bool KnowsCredential(HttpCall call) => call.Credential is null || _named.ContainsKey(call.Credential);

    /// <summary>Where the call's token comes from and how it is sent; null when the call's credential is not configured.</summary>
    public CredentialRoute? RouteFor(HttpCall call)
    {
        if (call.Credential is { } name) return _named.GetValueOrDefault(name);
        if (Tokens is null) return null;
        return _default ??= new CredentialRoute(null, Tokens, TokenHeader, TokenScheme, TriggerStatusCodes) { Snapshot = TokenSnapshot };
    }

    /// <summary>
    /// May the call's first attempt be sent as soon as it starts, without waiting for another actor first? True when it
    /// carries no token, or its credential's published token may be sent now (<paramref name="clock"/>, read only then).
    /// </summary>
    public bool MaySendAtOnce(HttpCall call, IScheduler clock) =>
        !UsesToken(call) || RouteFor(call)?.Snapshot?.TryGet(clock.Now) is not null;

    /// <summary>Does this call carry an access token (of its credential)?</summary>
    public bool UsesToken(HttpCall call)
    {
        if (call.Anonymous || RouteFor(call) is not { } route) return false;
        foreach (var header in call.Headers)
            if (string.Equals(header.Key, route.Header, StringComparison.OrdinalIgnoreCase)) return false; // the caller brought its own
        return true;
    }

    public TimeSpan DelayBeforeRetry(int retry) =>
        Backoff.Compute(retry, BaseDelay, BackoffFactor, MaxDelay, Jitter, MaxJitter, Randomizer());

    /// <summary>RFC 9110 §9.2.2: methods whose repetition has the same effect as one request.</summary>
    public static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options ||
        method == HttpMethod.Trace || method == HttpMethod.Put || method == HttpMethod.Delete;

    /// <summary>
    /// The call the RequestActor runs: with <c>Retry:AddIdempotencyKeys</c>, a non-idempotent call without an
    /// <c>Idempotency-Key</c> gets one, made once here so that every attempt of the call carries the same key (the id stays).
    /// </summary>
    public HttpCall WithAutomaticIdempotencyKey(HttpCall call) =>
        AddIdempotencyKeys && !IsIdempotent(call.Method) && !call.HasIdempotencyKey
            ? call with { Headers = [.. call.Headers, new("Idempotency-Key", Guid.NewGuid().ToString("D"))], Id = call.Id }
            : call;

    /// <summary>May this call be sent again after the request may have reached the server?</summary>
    public bool MayRepeat(HttpCall call) =>
        call.Body is not { IsReplayable: false } && (IsIdempotent(call.Method) || call.RetryNonIdempotent || RetryNonIdempotentMethods || call.HasIdempotencyKey);
}

/// <summary>
/// How a call gets and sends the token of one credential: the TokenActor to ask (for a named credential, its supervisor,
/// with the message wrapped in <see cref="Auth.ForCredential"/>), the header, the scheme and the statuses that mean "refused".
/// </summary>
internal sealed record CredentialRoute(string? Name, IActorRef Actor, string Header, string? Scheme, FrozenSet<int> TriggerStatusCodes)
{
    /// <summary>The credential's published token, read at send time; null or empty: ask <see cref="Actor"/>.</summary>
    public Auth.TokenSnapshotCell? Snapshot { get; init; }

    /// <summary>Sends a TokenActor message (GetToken, TokenRejected) for this credential.</summary>
    public void Tell(object message, IActorRef sender) => Actor.Tell(Name is null ? message : new Auth.ForCredential(Name, message), sender);

    /// <summary>The header value for <paramref name="accessToken"/>.</summary>
    public string HeaderValue(string accessToken) => Scheme is null ? accessToken : Scheme + " " + accessToken;
}
