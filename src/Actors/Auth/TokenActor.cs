using Akka.Actor;
using Akka.Event;
using Courier.Errors;

namespace Courier.Auth;

/// <summary>
/// The one owner of the credentials. It hands the current access token to every call at send time, and when a call is
/// refused it runs exactly one refresh for the whole runtime while every other token request waits in its stash; then
/// all of them continue with the new token, or all fail together with one <see cref="AuthenticationFailedException"/> and
/// one <see cref="AuthenticationFailed"/> event.
/// </summary>
/// <remarks>
/// States: <c>Loading</c> (reading the store), <c>Ready</c>, <c>Refreshing</c>, <c>Releasing</c> (failing the waiters of a
/// refresh that timed out) and <c>SignedOut</c>. Generations make late rejections harmless: a call refused with a token
/// older than the current one is simply given the current one.
/// <para>
/// The refresh step is pluggable: with a shared link (Courier.Cluster) the actor does not refresh itself but asks the link
/// for the successor of its generation, adopts any newer shared pair it is told about, and waits in <c>Loading</c> for the
/// first shared pair instead of reading its store.
/// </para>
/// </remarks>
public sealed class TokenActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const string ProactiveTimer = "proactive";
    private const string RefreshAttemptTimer = "refresh-attempt";
    private const string RefreshRetryTimer = "refresh-retry";
    private const string RefreshDeadlineTimer = "refresh-deadline";
    private const string LoadDeadlineTimer = "load-deadline";

    private readonly TokenSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Diagnostics.RefreshTelemetry _refreshTelemetry = new(Context.System);

    private TokenPair? _credentials;
    private long _generation;
    private long _refreshes;
    private AuthenticationFailedException? _signedOutError;

    // The refresh in progress.
    private string _trigger = "";
    private int _refreshAttempt;
    private int _waiting;
    private CancellationTokenSource? _refreshCancellation;

    // The shared refresh step (null: this actor refreshes itself).
    private IActorRef? _link;

    internal TokenActor(TokenSettings settings)
    {
        _settings = settings;
        Loading();
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    internal static Props Props(TokenSettings settings) => Internal.FactoryProducer<TokenActor>.Props(() => new TokenActor(settings));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private bool IsShared => _link is not null;

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_settings.SharedLink is { } link)
        {
            // The shared pair comes from the link; the store is only written (the link's owner seeds from it).
            _link = Context.ActorOf(link, "shared");
            return;
        }
        _settings.Store.LoadAsync(CancellationToken.None).PipeTo(Self,
            success: loaded => new StoreLoaded(loaded),
            failure: error => new StoreFailed(error));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _refreshCancellation?.Cancel();
        _refreshCancellation?.Dispose();
        _refreshTelemetry.Ended("stopped", Now);
    }

    // ---- Loading --------------------------------------------------------------------------------------------

    private void Loading()
    {
        Receive<StoreLoaded>(m =>
        {
            var credentials = m.Credentials ?? _settings.Initial;
            if (credentials is null)
            {
                _log.Info("No credentials in the store and none configured: signed out until a sign-in.");
                BecomeSignedOut(new AuthenticationFailedException("no credentials: sign in first"), publish: false);
                return;
            }
            Adopt(credentials);
            if (m.Credentials is null) Persist(credentials); // keep configured credentials, so rotation survives a restart
            _log.Info("Credentials loaded ({0}), generation {1}.", credentials, _generation);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<StoreFailed>(m =>
        {
            _log.Error("The token store could not be loaded: {0}", m.Error.Message);
            BecomeSignedOut(new AuthenticationFailedException(m.Error.Message, inner: m.Error), publish: true);
        });
        Receive<SharedCredentials>(m =>
        {
            Timers.Cancel(LoadDeadlineTimer);
            AdoptShared(m);
        });
        Receive<LoadDeadline>(_ =>
        {
            // Shared mode only: no shared pair yet (cluster forming, owner moving). Fail the waiting calls, keep waiting.
            _log.Warning("No shared credentials within {0} s; the waiting calls fail.", _settings.RefreshTimeout.TotalSeconds);
            Release(new AuthenticationFailedException($"no shared credentials arrived within {_settings.RefreshTimeout.TotalSeconds:0.###} s"), Loading);
        });
        Receive<GetTokenStatus>(_ => Sender.Tell(Status("Loading")), _ => IsShared);
        ReceiveAny(_ =>
        {
            if (IsShared && !Timers.IsTimerActive(LoadDeadlineTimer))
                Timers.StartSingleTimer(LoadDeadlineTimer, LoadDeadline.Instance, _settings.RefreshTimeout);
            Stash.Stash();
        });
    }

    // ---- Ready ----------------------------------------------------------------------------------------------

    private void Ready()
    {
        Receive<GetToken>(m =>
        {
            if (IsUsable()) Grant(Sender, m.CallId);
            else StartRefresh("expired", waiter: true);
        });
        Receive<TokenRejected>(m =>
        {
            if (m.Generation < _generation) Grant(Sender, m.CallId); // someone already refreshed: no second refresh
            else StartRefresh("rejected", waiter: true);
        });
        Receive<ProactiveRefreshDue>(m =>
        {
            if (m.Generation == _generation) StartRefresh("proactive", waiter: false);
        });
        CommonHandlers();
    }

    private bool IsUsable() =>
        _credentials is { AccessToken.Length: > 0 } c && (c.ExpiresAt is not { } expires || expires > Now);

    private void Grant(IActorRef to, long callId) => to.Tell(new TokenGranted(callId, _credentials!.AccessToken, _generation));

    // ---- Refreshing -----------------------------------------------------------------------------------------

    private void StartRefresh(string trigger, bool waiter)
    {
        if (!IsShared && (_credentials?.RefreshToken is null || _settings.Refresher is null))
        {
            var error = new AuthenticationFailedException(
                _settings.Refresher is null ? "the access token was refused or has expired, and no token endpoint is configured (Courier:Auth:RefreshEndpoint)"
                : _credentials is { AccessToken.Length: > 0 } ? "the access token was refused or has expired, and there is no refresh token to renew it"
                : "there is no access token and no refresh token");
            if (waiter) Stash.Stash();
            BecomeSignedOut(error, publish: true);
            return;
        }

        _trigger = trigger;
        _refreshAttempt = 0;
        _waiting = 0;
        _refreshTelemetry.Started(trigger, _generation, Now);
        Timers.Cancel(ProactiveTimer);
        Timers.Cancel(RefreshRetryTimer);
        Timers.Cancel(RefreshAttemptTimer);
        Timers.StartSingleTimer(RefreshDeadlineTimer, new RefreshDeadline(_generation), _settings.RefreshTimeout);
        Become(Refreshing);
        if (waiter) Wait();
        _log.Info("Refreshing the access token (generation {0}, {1}).", _generation, trigger);
        SendRefresh();
    }

    private void Refreshing()
    {
        Receive<GetToken>(m =>
        {
            // A proactive refresh runs while the current token is still good: keep serving it.
            if (_trigger == "proactive" && IsUsable()) Grant(Sender, m.CallId);
            else Wait();
        });
        Receive<TokenRejected>(_ => Wait());
        Receive<RefreshAnswered>(m => m.Attempt == _refreshAttempt, OnRefreshAnswered);
        Receive<RefreshAttemptTimedOut>(m => m.Attempt == _refreshAttempt, m =>
        {
            _refreshCancellation?.Cancel();
            OnRefreshAnswered(new RefreshAnswered(m.Attempt,
                new TokenRefreshResult.Failed($"the token endpoint did not answer within {_settings.RefreshAttemptTimeout.TotalSeconds:0.###} s")));
        });
        Receive<RetryRefresh>(_ => SendRefresh());
        Receive<RefreshDeadline>(_ =>
        {
            // A retry or attempt timer of this refresh must not fire into the next one.
            Timers.Cancel(RefreshRetryTimer);
            Timers.Cancel(RefreshAttemptTimer);
            _refreshCancellation?.Cancel();
            _refreshAttempt = -1; // late answers are dropped
            _log.Warning("The token refresh did not finish within {0} s; {1} waiting call(s) fail.", _settings.RefreshTimeout.TotalSeconds, _waiting);
            _refreshTelemetry.Ended("timeout", Now);
            Release(new AuthenticationFailedException($"the token refresh did not finish within {_settings.RefreshTimeout.TotalSeconds:0.###} s"));
        });
        Receive<Persisted>(m => m.NotifyWhenStored is not null, AfterPersisted);
        Receive<Persisted>(m => m.Generation == _generation + 1 && !IsShared, m =>
        {
            // The old refresh token is already spent at the server: carry on with the new pair even if it could not be
            // stored, and say so loudly (a restart would need a new sign-in).
            if (m.Error is not null)
                _log.Error("The refreshed credentials could not be stored ({0}); they are used from memory. A restart will need a new sign-in.", m.Error.Message);
            Complete(m.Credentials, m.Attempts);
        });
        Receive<SharedCredentials>(m => m.Generation > _generation, m =>
        {
            Timers.Cancel(RefreshDeadlineTimer);
            AdoptShared(m);
        });
        Receive<SharedRefreshFailed>(m => m.Generation == _generation, m =>
        {
            Timers.Cancel(RefreshDeadlineTimer);
            _log.Warning("The shared token refresh failed after {0} attempt(s): {1}; {2} waiting call(s) fail.", m.Attempts, m.Reason, _waiting);
            Context.System.EventStream.Publish(new TokenRefreshFailed(m.Reason, m.Attempts, null));
            Release(new AuthenticationFailedException($"the token refresh failed {m.Attempts} time(s): {m.Reason}"));
        });
        Receive<SignIn>(_ => Stash.Stash());
        Receive<SignOut>(_ => Stash.Stash());
        Receive<GetTokenStatus>(_ => Sender.Tell(Status("Refreshing")));
        ReceiveAny(_ => { }); // late answers of abandoned attempts, stale timers
    }

    private void Wait()
    {
        _refreshTelemetry.Waiting(((ActorCell)Context).CurrentMessage, Sender);
        _waiting++;
        Stash.Stash();
    }

    private void SendRefresh()
    {
        if (_link is not null)
        {
            // The link resends until it is answered or the deadline passes; the owner refreshes once per generation.
            _link.Tell(new SharedRefreshRequest(_generation, _trigger));
            return;
        }
        _refreshAttempt++;
        _refreshCancellation?.Dispose();
        _refreshCancellation = new CancellationTokenSource();
        var attempt = _refreshAttempt;
        Timers.StartSingleTimer(RefreshAttemptTimer, new RefreshAttemptTimedOut(attempt), _settings.RefreshAttemptTimeout);
        _settings.Refresher!.RefreshAsync(_credentials!.RefreshToken!, _refreshCancellation.Token).PipeTo(Self,
            success: result => new RefreshAnswered(attempt, result),
            failure: error => new RefreshAnswered(attempt, new TokenRefreshResult.Failed(error.GetType().Name + ": " + error.Message, error)));
    }

    private void OnRefreshAnswered(RefreshAnswered m)
    {
        Timers.Cancel(RefreshAttemptTimer);
        switch (m.Result)
        {
            case TokenRefreshResult.Refreshed refreshed:
            {
                var expiresAt = refreshed.ExpiresIn is { } lifetime ? Now + lifetime : JwtExpiry.TryRead(refreshed.AccessToken);
                if (expiresAt <= Now)
                {
                    // Already expired on arrival (expires_in 0, or clock skew against a JWT's exp): treating it as expired
                    // would make every waiting call start another refresh. Use it until the server refuses it.
                    _log.Warning("The token endpoint returned an access token that is already expired by this clock; it is used until refused.");
                    expiresAt = null;
                }
                // The new pair is stored before anything else: from here on the refresh deadline no longer applies, or a
                // slow store write could release the waiters with the old pair while the server has already rotated it.
                Timers.Cancel(RefreshDeadlineTimer);
                // The refresh token may rotate; when the answer has none, the old one stays valid.
                var next = new TokenPair(refreshed.AccessToken, refreshed.RefreshToken ?? _credentials!.RefreshToken, expiresAt);
                var generation = _generation + 1;
                var attempts = _refreshAttempt;
                _refreshAttempt = -1;
                // Persist first: a rotated refresh token must survive a crash before any call uses the new pair.
                StoreWriter.Tell(new StoreOperation(next, generation, attempts));
                break;
            }
            case TokenRefreshResult.Rejected rejected:
                _log.Warning("The token endpoint refused the refresh token: {0}. Signing out; {1} waiting call(s) fail.", rejected.Reason, _waiting);
                Timers.Cancel(RefreshDeadlineTimer);
                ClearStore();
                BecomeSignedOut(new AuthenticationFailedException($"the refresh token was refused ({rejected.Reason}); sign in again"), publish: true);
                break;
            case TokenRefreshResult.Failed failed:
                if (_refreshAttempt > _settings.RefreshMaxRetries)
                {
                    var attempts = _refreshAttempt;
                    _log.Warning("The token refresh failed {0} time(s), last: {1}; {2} waiting call(s) fail.", attempts, failed.Reason, _waiting);
                    Timers.Cancel(RefreshDeadlineTimer);
                    _refreshAttempt = -1;
                    Context.System.EventStream.Publish(new TokenRefreshFailed(failed.Reason, attempts, null));
                    Release(new AuthenticationFailedException($"the token refresh failed {attempts} time(s): {failed.Reason}", inner: failed.Error));
                    break;
                }
                var delay = _settings.DelayBeforeRetry(_refreshAttempt - 1);
                Timers.StartSingleTimer(RefreshRetryTimer, RetryRefresh.Instance, delay);
                _refreshTelemetry.AttemptFailed(_refreshAttempt, delay);
                _log.Info("The token refresh failed ({0}); retrying in {1} ms.", failed.Reason, (long)delay.TotalMilliseconds);
                Context.System.EventStream.Publish(new TokenRefreshFailed(failed.Reason, _refreshAttempt, delay));
                break;
        }
    }

    private void Complete(TokenPair next, int attempts)
    {
        Timers.Cancel(RefreshDeadlineTimer);
        if (_refreshCancellation is not null) { _refreshCancellation.Dispose(); _refreshCancellation = null; }
        Adopt(next);
        _refreshes++;
        _refreshTelemetry.Ended("refreshed", Now, attempts, _generation);
        _log.Info("Access token refreshed: generation {0}, {1}; {2} waiting call(s) continue.", _generation, next, _waiting);
        Context.System.EventStream.Publish(new TokenRefreshed(_generation, next.ExpiresAt, _trigger, attempts, _waiting));
        _waiting = 0;
        Become(Ready);
        Stash.UnstashAll();
    }

    /// <summary>Fails the waiters of a refresh that gave up, then goes back to Ready (or <paramref name="next"/>) with the credentials unchanged.</summary>
    private void Release(AuthenticationFailedException error, Action? next = null)
    {
        _refreshTelemetry.Ended("failed", Now);
        _waiting = 0;
        Become(() => Releasing(error, next ?? Ready));
        Stash.UnstashAll();
        Self.Tell(ReleaseDone.Instance);
    }

    private void Releasing(AuthenticationFailedException error, Action next)
    {
        Receive<GetToken>(m => Sender.Tell(new TokenUnavailable(m.CallId, error)));
        Receive<TokenRejected>(m => Sender.Tell(new TokenUnavailable(m.CallId, error)));
        Receive<ReleaseDone>(_ => { Become(next); Stash.UnstashAll(); });
        Receive<GetTokenStatus>(_ => Sender.Tell(Status("Releasing")));
        ReceiveAny(_ => Stash.Stash());
    }

    // ---- SignedOut ------------------------------------------------------------------------------------------

    private void BecomeSignedOut(AuthenticationFailedException error, bool publish)
    {
        _refreshTelemetry.Ended("rejected", Now);
        _signedOutError = error;
        _credentials = null;
        _waiting = 0;
        Timers.Cancel(ProactiveTimer);
        Become(SignedOut);
        if (publish) Context.System.EventStream.Publish(new AuthenticationFailed(error.Reason, error));
        Stash.UnstashAll();
    }

    private void SignedOut()
    {
        Receive<GetToken>(m => Sender.Tell(new TokenUnavailable(m.CallId, _signedOutError!)));
        Receive<TokenRejected>(m => Sender.Tell(new TokenUnavailable(m.CallId, _signedOutError!)));
        CommonHandlers();
    }

    // ---- shared ---------------------------------------------------------------------------------------------

    private void CommonHandlers()
    {
        Receive<SharedCredentials>(m => m.Generation > _generation, AdoptShared);
        Receive<SignIn>(_ => IsShared, m => _link!.Forward(new SharedSignIn(m.Credentials.ExpiresAt is null
            ? m.Credentials with { ExpiresAt = JwtExpiry.TryRead(m.Credentials.AccessToken) }
            : m.Credentials)));
        Receive<SignIn>(m =>
        {
            var credentials = m.Credentials.ExpiresAt is null
                ? m.Credentials with { ExpiresAt = JwtExpiry.TryRead(m.Credentials.AccessToken) }
                : m.Credentials;
            Adopt(credentials);
            // SignedIn promises "stored and in use": it is sent when the store write is done (see Persisted).
            StoreWriter.Tell(new StoreOperation(credentials, _generation, 0) { NotifyWhenStored = Sender });
            _signedOutError = null;
            _log.Info("Signed in ({0}), generation {1}.", credentials, _generation);
            Become(Ready);
        });
        Receive<SignOut>(_ =>
        {
            _link?.Tell(SharedSignOut.Instance);
            ClearStore();
            BecomeSignedOut(new AuthenticationFailedException("signed out"), publish: false);
        });
        Receive<GetTokenStatus>(_ => Sender.Tell(Status(_credentials is null ? "SignedOut" : "Ready")));
        Receive<Persisted>(AfterPersisted);
        Receive<StoreCleared>(m =>
        {
            if (m.Error is not null) _log.Error("The token store could not be cleared: {0}", m.Error.Message);
        });
        ReceiveAny(_ => { }); // stale timers and answers
    }

    private void AfterPersisted(Persisted m)
    {
        if (m.Error is not null) _log.Error("The token store could not be written: {0}", m.Error.Message);
        m.NotifyWhenStored?.Tell(new SignedIn(m.Generation));
    }

    private void ClearStore() => StoreWriter.Tell(new StoreOperation(null, 0, 0));

    private TokenStatus Status(string state) => new(state, _generation, _credentials?.ExpiresAt, _refreshes, _waiting);

    private void Adopt(TokenPair credentials)
    {
        _credentials = credentials;
        _generation++;
        ScheduleProactiveRefresh();
    }

    /// <summary>
    /// Takes a shared pair newer than the current one (a refresh anywhere in the cluster, a sign-in, a seed), or signs
    /// out when the shared state has none. Either way the waiting calls continue.
    /// </summary>
    private void AdoptShared(SharedCredentials shared)
    {
        _generation = shared.Generation;
        if (shared.Credentials is not { } next)
        {
            var reason = shared.Failure ?? "signed out";
            _log.Info("The shared credentials are gone (generation {0}): {1}; {2} waiting call(s) fail.", _generation, reason, _waiting);
            ClearStore();
            BecomeSignedOut(new AuthenticationFailedException(shared.Announce ? $"the refresh token was refused ({reason}); sign in again" : reason),
                publish: shared.Announce);
            return;
        }
        _credentials = next;
        _signedOutError = null;
        ScheduleProactiveRefresh();
        Persist(next); // so that this node can seed a new owner after a restart of the whole cluster
        if (shared.Trigger is not null)
        {
            _refreshes++;
            Context.System.EventStream.Publish(new TokenRefreshed(_generation, next.ExpiresAt, shared.Trigger, shared.Attempts, _waiting));
        }
        _log.Info("Shared credentials adopted: generation {0}, {1}; {2} waiting call(s) continue.", _generation, next, _waiting);
        _refreshTelemetry.Ended("adopted", Now, shared.Attempts, _generation);
        _waiting = 0;
        Become(Ready);
        Stash.UnstashAll();
    }

    private void Persist(TokenPair credentials) => StoreWriter.Tell(new StoreOperation(credentials, _generation, 0));

    /// <summary>
    /// Every store write and clear goes through one child, one at a time, in the order asked. Two writes piped straight
    /// from here could finish in either order (each is a temp file and a rename), and a rotated-away refresh token
    /// landing last would be reused after a restart, which a server with reuse detection punishes by revoking the family.
    /// </summary>
    private IActorRef StoreWriter => _storeWriter ??= Context.ActorOf(
        Internal.FactoryProducer<TokenStoreWriter>.Props(() => new TokenStoreWriter(_settings.Store)), "store-writer");

    private IActorRef? _storeWriter;

    /// <summary>A store operation: save <see cref="Credentials"/>, or clear the store when it is null.</summary>
    private sealed record StoreOperation(TokenPair? Credentials, long Generation, int Attempts)
    {
        /// <summary>Who is told <see cref="SignedIn"/> once the write is done (a sign-in's sender), if anyone.</summary>
        public IActorRef? NotifyWhenStored { get; init; }

        public override string ToString() => Credentials is null ? "StoreOperation(clear)" : $"StoreOperation(save generation {Generation})";
    }

    private sealed class TokenStoreWriter : ReceiveActor
    {
        public TokenStoreWriter(ITokenStore store)
        {
            ReceiveAsync<StoreOperation>(async operation =>
            {
                var replyTo = Sender;
                Exception? error = null;
                try
                {
                    if (operation.Credentials is null) await store.ClearAsync(CancellationToken.None).ConfigureAwait(false);
                    else await store.SaveAsync(operation.Credentials, CancellationToken.None).ConfigureAwait(false);
                }
                catch (Exception ex)
                {
                    error = ex;
                }
                replyTo.Tell(operation.Credentials is null
                    ? new StoreCleared(error)
                    : new Persisted(operation.Credentials, operation.Generation, operation.Attempts, error) { NotifyWhenStored = operation.NotifyWhenStored });
            });
        }
    }

    private void ScheduleProactiveRefresh()
    {
        Timers.Cancel(ProactiveTimer);
        // Without a way to refresh, a proactive "refresh" would only sign out a token that is still good.
        if (!_settings.ProactiveRefresh || (_settings.Refresher is null && !IsShared)) return;
        if (_credentials is not { RefreshToken: not null, ExpiresAt: { } expiresAt }) return;
        var lifetime = expiresAt - Now;
        if (lifetime <= TimeSpan.Zero) return; // already expired: the next GetToken refreshes
        var margin = TimeSpan.FromTicks(Math.Min(_settings.ProactiveMargin.Ticks, (long)(lifetime.Ticks * _settings.ProactiveFraction)));
        Timers.StartSingleTimer(ProactiveTimer, new ProactiveRefreshDue(_generation), lifetime - margin);
    }

    // ---- private protocol -----------------------------------------------------------------------------------

    private sealed record StoreLoaded(TokenPair? Credentials);

    private sealed record StoreFailed(Exception Error);

    private sealed record RefreshAnswered(int Attempt, TokenRefreshResult Result);

    private sealed record RefreshAttemptTimedOut(int Attempt);

    private sealed record RetryRefresh
    {
        public static readonly RetryRefresh Instance = new();
    }

    private sealed record RefreshDeadline(long Generation);

    private sealed record ProactiveRefreshDue(long Generation);

    private sealed record Persisted(TokenPair Credentials, long Generation, int Attempts, Exception? Error)
    {
        public IActorRef? NotifyWhenStored { get; init; }

        public override string ToString() => $"Persisted(generation {Generation})";
    }

    private sealed record StoreCleared(Exception? Error);



    private sealed record ReleaseDone
    {
        public static readonly ReleaseDone Instance = new();
    }

    private sealed record LoadDeadline
    {
        public static readonly LoadDeadline Instance = new();
    }
}

/// <summary>The TokenActor's settings, copied at start.</summary>
internal sealed class TokenSettings
{
    /// <summary>Null when no token endpoint is configured: a refused token then signs the client out.</summary>
    public ITokenRefresher? Refresher { get; init; }
    public required ITokenStore Store { get; init; }
    public TokenPair? Initial { get; init; }
    public TimeSpan RefreshTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan RefreshAttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int RefreshMaxRetries { get; init; } = 3;
    public bool ProactiveRefresh { get; init; } = true;
    public TimeSpan ProactiveMargin { get; init; } = TimeSpan.FromSeconds(60);
    public double ProactiveFraction { get; init; } = 0.2;
    public required Func<int, TimeSpan> DelayBeforeRetry { get; init; }

    /// <summary>The shared refresh step (a child the TokenActor starts), or null when the TokenActor refreshes itself.</summary>
    public Props? SharedLink { get; init; }

    public static TokenSettings From(TokenOptions options, ITokenRefresher? refresher, Func<int, TimeSpan> delayBeforeRetry) => new()
    {
        Refresher = refresher,
        Store = options.CreateStore(),
        Initial = options.InitialCredentials(),
        RefreshTimeout = options.RefreshTimeout,
        RefreshAttemptTimeout = options.RefreshAttemptTimeout,
        RefreshMaxRetries = options.RefreshMaxRetries,
        ProactiveRefresh = options.ProactiveRefresh,
        ProactiveMargin = options.ProactiveRefreshMargin,
        ProactiveFraction = options.ProactiveRefreshFraction,
        DelayBeforeRetry = delayBeforeRetry,
    };

    /// <summary>A copy that leaves refreshes to <paramref name="link"/> and writes adopted pairs to <paramref name="store"/>.</summary>
    public TokenSettings WithSharedLink(Props link, ITokenStore store) => new()
    {
        Refresher = null,
        Store = store,
        Initial = Initial,
        RefreshTimeout = RefreshTimeout,
        RefreshAttemptTimeout = RefreshAttemptTimeout,
        RefreshMaxRetries = RefreshMaxRetries,
        ProactiveRefresh = ProactiveRefresh,
        ProactiveMargin = ProactiveMargin,
        ProactiveFraction = ProactiveFraction,
        DelayBeforeRetry = DelayBeforeRetry,
        SharedLink = link,
    };
}
