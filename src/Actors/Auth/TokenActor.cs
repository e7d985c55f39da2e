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
/// States: <c>Loading</c> (reading the store), <c>Ready</c>, <c>Refreshing</c>, <c>Storing</c> (the new pair is written
/// before any call sees it, bounded by the store-write timeout), <c>Releasing</c> (failing the waiters of a refresh that
/// gave up) and <c>SignedOut</c>. Generations make late rejections harmless: a call refused with a token older than the
/// current one is simply given the current one, unless that one is known to be expired too.
/// <para>
/// The requests to the token endpoint, their correlation and the retry decision live in <see cref="RefreshCore"/>, shared
/// with the cluster's credential owner: at most one request in flight, and none with a refresh token in doubt.
/// </para>
/// <para>
/// With an acquirer (<see cref="TokenSettings.Acquirer"/>, the client credentials grant) there is no refresh token: with
/// nothing loaded the actor is Ready and the first token request acquires; a refused acquisition fails the waiters and
/// publishes <see cref="AuthenticationFailed"/> once, but signs nothing out: the next need acquires again.
/// </para>
/// <para>
/// The refresh step is pluggable: with a shared link (Courier.Cluster) the actor does not refresh itself but asks the link
/// for the successor of its generation, adopts any newer shared pair it is told about, and waits in <c>Loading</c> for the
/// first shared pair instead of reading its store.
/// </para>
/// </remarks>
public sealed class TokenActor : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const string ProactiveTimer = "proactive";
    private const string RefreshDeadlineTimer = "refresh-deadline";
    private const string StoreWriteTimer = "store-write";
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
    private int _waiting;

    // The requests to the token endpoint (null when there is none, or with a shared link).
    private RefreshCore? _core;

    // The shared refresh step (null: this actor refreshes itself).
    private IActorRef? _link;

    internal TokenActor(TokenSettings settings)
    {
        _settings = settings;
        _settings.Snapshot?.Publish(null); // a restarted actor starts over in Loading: nothing to read until it is Ready
        Loading();
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    internal static Props Props(TokenSettings settings) => Internal.FactoryProducer<TokenActor>.Props(() => new TokenActor(settings));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    private bool IsShared => _link is not null;

    /// <summary>True when tokens are acquired without a refresh token (the client credentials grant).</summary>
    private bool Acquires => _settings.Acquirer is not null && !IsShared;

    /// <summary>The credential's name in messages: empty for the default credential, else " (credential 'name')".</summary>
    private string Named => _settings.Credential is null ? "" : $" (credential '{_settings.Credential}')";

    /// <summary>The credential's configuration section, for messages.</summary>
    private string Section => _settings.Credential is null ? "Courier:Auth" : $"Courier:Credentials:{_settings.Credential}";

    private AuthenticationFailedException Failure(string reason, Exception? inner = null) =>
        new(reason, inner: inner, credential: _settings.Credential);

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_settings.SharedLink is { } link)
        {
            // The shared pair comes from the link; the store is only written (the link's owner seeds from it).
            _link = Context.ActorOf(link, "shared");
            return;
        }
        var coreSettings = new RefreshCoreSettings(_settings.RefreshAttemptTimeout, _settings.RefreshMaxRetries, _settings.DelayBeforeRetry);
        if (_settings.Acquirer is { } acquirer) _core = new RefreshCore(acquirer, coreSettings, this, Self, _log);
        else if (_settings.Refresher is { } refresher) _core = new RefreshCore(refresher, coreSettings, this, Self, _log);
        _settings.Store.LoadAsync(CancellationToken.None).PipeTo(Self,
            success: loaded => new StoreLoaded(loaded),
            failure: error => new StoreFailed(error));
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _settings.Snapshot?.Publish(null);
        _core?.Stop();
        _refreshTelemetry.Ended("stopped", Now);
    }

    /// <summary>
    /// Every state change goes through here: in <c>Ready</c> with a token, that token is published for calls to read
    /// (<see cref="TokenSnapshot"/>); in any other state the snapshot is withdrawn, so calls ask the actor and wait, or
    /// fail, exactly as before. The actor would grant the published token to a <see cref="GetToken"/> right now.
    /// </summary>
    private new void Become(Action state)
    {
        base.Become(state);
        if (_settings.Snapshot is not { } cell) return;
        cell.Publish(state == (Action)Ready && _credentials is { AccessToken.Length: > 0 } c ? new TokenSnapshot(c.AccessToken, _generation, c.ExpiresAt) : null);
    }

    // ---- Loading --------------------------------------------------------------------------------------------

    private void Loading()
    {
        Receive<StoreLoaded>(m =>
        {
            var credentials = m.Credentials ?? _settings.Initial;
            if (credentials is null && Acquires)
            {
                // Nothing to load and nothing needed: the first call acquires a token.
                _log.Info("No credentials in the store; the first call acquires a token{0}.", Named);
                Become(Ready);
                Stash.UnstashAll();
                return;
            }
            if (credentials is null)
            {
                _log.Info("No credentials in the store and none configured: signed out until a sign-in.");
                BecomeSignedOut(Failure("no credentials: sign in first"), publish: false);
                return;
            }
            Adopt(credentials);
            if (m.Credentials is null) Persist(credentials); // keep configured credentials, so rotation survives a restart
            _log.Info("Credentials loaded ({0}), generation {1}.", credentials, _generation);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<StoreFailed>(_ => Acquires, m =>
        {
            // Nothing is lost: no refresh token lives in the store, a new token is acquired.
            _log.Error("The token store could not be loaded: {0}; a new token is acquired at the first call.", m.Error.Message);
            Become(Ready);
            Stash.UnstashAll();
        });
        Receive<StoreFailed>(m =>
        {
            _log.Error("The token store could not be loaded: {0}", m.Error.Message);
            BecomeSignedOut(Failure(m.Error.Message, inner: m.Error), publish: true);
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
            Release(Failure($"no shared credentials arrived within {_settings.RefreshTimeout.TotalSeconds:0.###} s"), Loading);
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
            // Someone already refreshed: the call gets the current token, unless that one is known to be expired too.
            if (m.Generation < _generation && IsUsable()) Grant(Sender, m.CallId);
            else StartRefresh(m.Generation < _generation ? "expired" : "rejected", waiter: true);
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
        if (!IsShared && !Acquires && (_credentials?.RefreshToken is null || _core is null))
        {
            var error = Failure(
                _core is null ? $"the access token was refused or has expired, and no token endpoint is configured ({Section}:RefreshEndpoint)"
                : _credentials is { AccessToken.Length: > 0 } ? "the access token was refused or has expired, and there is no refresh token to renew it"
                : "there is no access token and no refresh token");
            if (waiter) Stash.Stash();
            BecomeSignedOut(error, publish: true);
            return;
        }

        _trigger = trigger;
        _waiting = 0;
        _refreshTelemetry.Started(trigger, _generation, Now);
        Timers.Cancel(ProactiveTimer);
        Timers.StartSingleTimer(RefreshDeadlineTimer, new RefreshDeadline(_generation), _settings.RefreshTimeout);
        Become(Refreshing);
        if (waiter) Wait();
        _log.Info("Refreshing the access token (generation {0}, {1}).", _generation, trigger);
        if (_link is not null)
        {
            // The link resends until it is answered or the deadline passes; the owner refreshes once per generation.
            _link.Tell(new SharedRefreshRequest(_generation, _trigger));
            return;
        }
        _core!.Begin(Acquires ? null : _credentials!.RefreshToken!);
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
        Receive<RefreshDeadline>(m => m.Generation == _generation, _ =>
        {
            // The request in flight is cancelled and stays in doubt: no other goes out until it has ended.
            _core?.Abort();
            _log.Warning("The token refresh did not finish within {0} s; {1} waiting call(s) fail.", _settings.RefreshTimeout.TotalSeconds, _waiting);
            _refreshTelemetry.Ended("timeout", Now);
            Release(Failure($"the token refresh did not finish within {_settings.RefreshTimeout.TotalSeconds:0.###} s"));
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
            Release(Failure($"the token refresh failed {m.Attempts} time(s): {m.Reason}"));
        });
        CoreHandlers(refreshing: true);
        Receive<Persisted>(AfterPersisted);
        SignInOutHandlers();
        Receive<GetTokenStatus>(_ => Sender.Tell(Status("Refreshing")));
        ReceiveAny(_ => { }); // stale timers
    }

    private void Wait()
    {
        _refreshTelemetry.Waiting(((ActorCell)Context).CurrentMessage, Sender);
        _waiting++;
        Stash.Stash();
    }

    /// <summary>The refresh core's messages, in every state but Loading and Releasing: late answers and timers are its to judge.</summary>
    private void CoreHandlers(bool refreshing)
    {
        Receive<RefreshAnswered>(m => Carry(_core!.OnAnswered(m, _credentials?.RefreshToken, Now), refreshing));
        Receive<RefreshAttemptTimedOut>(m => Carry(_core!.OnAttemptTimedOut(m), refreshing));
        Receive<RefreshRetryDue>(m => _core!.OnRetryDue(m));
        Receive<RefreshInDoubtOver>(m => _core!.OnInDoubtOver(m));
    }

    /// <summary>Carries out a decision of the refresh core; <paramref name="refreshing"/> when the actor is in Refreshing.</summary>
    private void Carry(RefreshDecision? decision, bool refreshing)
    {
        switch (decision)
        {
            case null:
                return;
            case RefreshDecision.Adopt adopt:
            {
                if (_credentials is null && (!Acquires || _signedOutError is not null)) return; // signed out meanwhile: a late answer has nothing to replace
                if (!refreshing)
                {
                    // The late success of a refresh that was given up on: the server has rotated the refresh token we hold.
                    _trigger = "late answer";
                    _waiting = 0;
                }
                // From here on the refresh deadline no longer applies, or a slow store write could release the waiters with
                // the old pair while the server has already rotated it. The store write has a bound of its own.
                Timers.Cancel(RefreshDeadlineTimer);
                var generation = _generation + 1;
                // Persist first: a rotated refresh token must survive a crash before any call uses the new pair.
                StoreWriter.Tell(new StoreOperation(adopt.Pair, generation, adopt.Attempts));
                Timers.StartSingleTimer(StoreWriteTimer, new StoreWriteOverdue(generation), _settings.StoreWriteTimeout);
                Become(() => Storing(adopt.Pair, generation, adopt.Attempts));
                return;
            }
            case RefreshDecision.SignOut rejected when Acquires:
            {
                // No refresh token is lost: fail the waiters, say so once, and acquire again at the next need.
                _log.Warning("The token endpoint refused the token request{0}: {1}; {2} waiting call(s) fail.", Named, rejected.Reason, _waiting);
                Timers.Cancel(RefreshDeadlineTimer);
                var error = Failure($"the token request was refused ({rejected.Reason})");
                Context.System.EventStream.Publish(new AuthenticationFailed(error.Reason, error));
                Release(error);
                return;
            }
            case RefreshDecision.SignOut signOut:
                _log.Warning("The token endpoint refused the refresh token: {0}. Signing out; {1} waiting call(s) fail.", signOut.Reason, _waiting);
                Timers.Cancel(RefreshDeadlineTimer);
                ClearStore();
                BecomeSignedOut(Failure($"the refresh token was refused ({signOut.Reason}); sign in again"), publish: true);
                return;
            case RefreshDecision.RetryAfter retry:
                _refreshTelemetry.AttemptFailed(retry.Attempt, retry.Delay);
                _log.Info("The token refresh failed ({0}); retrying in {1} ms.", retry.Reason, (long)retry.Delay.TotalMilliseconds);
                Context.System.EventStream.Publish(new TokenRefreshFailed(retry.Reason, retry.Attempt, retry.Delay));
                return;
            case RefreshDecision.GiveUp giveUp:
                _log.Warning("The token refresh failed {0} time(s), last: {1}; {2} waiting call(s) fail.", giveUp.Attempts, giveUp.Reason, _waiting);
                Timers.Cancel(RefreshDeadlineTimer);
                Context.System.EventStream.Publish(new TokenRefreshFailed(giveUp.Reason, giveUp.Attempts, null));
                Release(Failure($"the token refresh failed {giveUp.Attempts} time(s): {giveUp.Reason}", inner: giveUp.Error));
                return;
        }
    }

    // ---- Storing --------------------------------------------------------------------------------------------

    /// <summary>The new pair is being written; calls wait. Bounded by <see cref="TokenSettings.StoreWriteTimeout"/>.</summary>
    private void Storing(TokenPair next, long generation, int attempts)
    {
        Receive<GetToken>(_ => Wait());
        Receive<TokenRejected>(_ => Wait());
        Receive<Persisted>(m => m.Generation == generation && m.NotifyWhenStored is null, m =>
        {
            // The old refresh token is already spent at the server: carry on with the new pair even if it could not be
            // stored, and say so loudly (a restart would need a new sign-in).
            if (m.Error is not null)
                _log.Error("The refreshed credentials could not be stored ({0}); they are used from memory. A restart will need a new sign-in.", m.Error.Message);
            Complete(next, attempts);
        });
        Receive<StoreWriteOverdue>(m => m.Generation == generation, _ =>
        {
            _log.Error("The refreshed credentials were not stored within {0} s; they are used from memory and the write goes on. A restart may need a new sign-in.",
                _settings.StoreWriteTimeout.TotalSeconds);
            Context.System.EventStream.Publish(new TokenStoreWriteOverdue(generation, _settings.StoreWriteTimeout));
            Complete(next, attempts);
        });
        Receive<Persisted>(AfterPersisted);
        CoreHandlers(refreshing: false);
        SignInOutHandlers();
        Receive<GetTokenStatus>(_ => Sender.Tell(Status("Storing")));
        ReceiveAny(_ => { }); // stale timers
    }

    private void Complete(TokenPair next, int attempts)
    {
        Timers.Cancel(StoreWriteTimer);
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
        CoreHandlers(refreshing: false);
        Receive<SharedCredentials>(m => m.Generation > _generation, AdoptShared);
        SignInOutHandlers();
        Receive<GetTokenStatus>(_ => Sender.Tell(Status(_credentials is null && (!Acquires || _signedOutError is not null) ? "SignedOut" : "Ready")));
        Receive<Persisted>(AfterPersisted);
        Receive<StoreCleared>(m =>
        {
            if (m.Error is not null) _log.Error("The token store could not be cleared: {0}", m.Error.Message);
        });
        ReceiveAny(_ => { }); // stale timers and answers
    }

    /// <summary>Sign-in and sign-out apply at once in every state but Loading and Releasing, in the order they arrive.</summary>
    private void SignInOutHandlers()
    {
        Receive<SignIn>(_ => IsShared, m => _link!.Forward(new SharedSignIn(WithExpiry(m.Credentials))));
        Receive<SignIn>(SignInNow);
        Receive<SignOut>(_ => SignOutNow());
    }

    private static TokenPair WithExpiry(TokenPair credentials) =>
        credentials.ExpiresAt is null ? credentials with { ExpiresAt = JwtExpiry.TryRead(credentials.AccessToken) } : credentials;

    /// <summary>
    /// Takes the signed-in pair at once: a refresh in progress is abandoned (a late answer for the old refresh token is
    /// ignored) and its waiting calls continue with the new token.
    /// </summary>
    private void SignInNow(SignIn m)
    {
        Timers.Cancel(RefreshDeadlineTimer);
        Timers.Cancel(StoreWriteTimer);
        _core?.Abort();
        _refreshTelemetry.Ended("signed in", Now);
        var credentials = WithExpiry(m.Credentials);
        Adopt(credentials);
        // SignedIn promises "stored and in use": it is sent when the store write is done (see Persisted).
        StoreWriter.Tell(new StoreOperation(credentials, _generation, 0) { NotifyWhenStored = Sender });
        _signedOutError = null;
        _log.Info("Signed in ({0}), generation {1}; {2} waiting call(s) continue.", credentials, _generation, _waiting);
        _waiting = 0;
        Become(Ready);
        Stash.UnstashAll();
    }

    /// <summary>
    /// Signs out at once, in any state but Loading: a refresh in progress is abandoned (its request cancelled, a late
    /// answer ignored), its waiting calls fail, and nothing is granted until the next sign-in. The clear is queued behind
    /// any store write, so the store ends empty.
    /// </summary>
    private void SignOutNow()
    {
        Timers.Cancel(RefreshDeadlineTimer);
        Timers.Cancel(StoreWriteTimer);
        _core?.Abort();
        _link?.Tell(SharedSignOut.Instance);
        ClearStore();
        _log.Info("Signed out; {0} waiting call(s) fail.", _waiting);
        _refreshTelemetry.Ended("signed out", Now);
        BecomeSignedOut(Failure("signed out"), publish: false);
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
            BecomeSignedOut(Failure(shared.Announce ? $"the refresh token was refused ({reason}); sign in again" : reason),
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
        if (!_settings.ProactiveRefresh || (_settings.Refresher is null && !Acquires && !IsShared)) return;
        if (_credentials is not { ExpiresAt: { } expiresAt } || (_credentials.RefreshToken is null && !Acquires)) return;
        var lifetime = expiresAt - Now;
        if (lifetime <= TimeSpan.Zero) return; // already expired: the next GetToken refreshes
        var margin = TimeSpan.FromTicks(Math.Min(_settings.ProactiveMargin.Ticks, (long)(lifetime.Ticks * _settings.ProactiveFraction)));
        Timers.StartSingleTimer(ProactiveTimer, new ProactiveRefreshDue(_generation), lifetime - margin);
    }

    // ---- private protocol -----------------------------------------------------------------------------------

    private sealed record StoreLoaded(TokenPair? Credentials);

    private sealed record StoreFailed(Exception Error);

    private sealed record RefreshDeadline(long Generation);

    private sealed record ProactiveRefreshDue(long Generation);

    private sealed record Persisted(TokenPair Credentials, long Generation, int Attempts, Exception? Error)
    {
        public IActorRef? NotifyWhenStored { get; init; }

        public override string ToString() => $"Persisted(generation {Generation})";
    }

    private sealed record StoreCleared(Exception? Error);

    private sealed record StoreWriteOverdue(long Generation);

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
internal sealed record TokenSettings
{
    /// <summary>Null when no token endpoint is configured: a refused token then signs the client out.</summary>
    public ITokenRefresher? Refresher { get; init; }

    /// <summary>Gets tokens without a refresh token (client credentials); when set, <see cref="Refresher"/> is not used.</summary>
    public ITokenAcquirer? Acquirer { get; init; }

    /// <summary>The credential's name (null for the default one): in failures and events.</summary>
    public string? Credential { get; init; }
    public required ITokenStore Store { get; init; }
    public TokenPair? Initial { get; init; }
    public TimeSpan RefreshTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public TimeSpan RefreshAttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan StoreWriteTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int RefreshMaxRetries { get; init; } = 3;
    public bool ProactiveRefresh { get; init; } = true;
    public TimeSpan ProactiveMargin { get; init; } = TimeSpan.FromSeconds(60);
    public double ProactiveFraction { get; init; } = 0.2;
    public required Func<int, TimeSpan> DelayBeforeRetry { get; init; }

    /// <summary>The shared refresh step (a child the TokenActor starts), or null when the TokenActor refreshes itself.</summary>
    public Props? SharedLink { get; init; }

    /// <summary>
    /// Where the actor publishes the token it would hand out now, for calls to read at send time (one cell per TokenActor,
    /// made by the runtime that starts it); null: calls always ask the actor.
    /// </summary>
    public TokenSnapshotCell? Snapshot { get; init; }

    public static TokenSettings From(TokenOptions options, ITokenRefresher? refresher, Func<int, TimeSpan> delayBeforeRetry,
        ITokenAcquirer? acquirer = null, string? credential = null) => new()
    {
        Refresher = refresher,
        Acquirer = acquirer,
        Credential = credential,
        Store = options.CreateStore(),
        Initial = options.InitialCredentials(),
        RefreshTimeout = options.RefreshTimeout,
        RefreshAttemptTimeout = options.RefreshAttemptTimeout,
        StoreWriteTimeout = options.StoreWriteTimeout,
        RefreshMaxRetries = options.RefreshMaxRetries,
        ProactiveRefresh = options.ProactiveRefresh,
        ProactiveMargin = options.ProactiveRefreshMargin,
        ProactiveFraction = options.ProactiveRefreshFraction,
        DelayBeforeRetry = delayBeforeRetry,
    };

    /// <summary>A copy that leaves refreshes to <paramref name="link"/> and writes adopted pairs to <paramref name="store"/>.</summary>
    /// <remarks><paramref name="waitForOwner"/>, when given, replaces <see cref="RefreshTimeout"/>: in a cluster, calls wait
    /// through the owner-less gap of a failover, which the cluster's own settings bound (Courier.Cluster's FailoverBudget).</remarks>
    // `with`: a setting added later is carried over without being listed here (a field-by-field copy drifted before).
    public TokenSettings WithSharedLink(Props link, ITokenStore store, TimeSpan? waitForOwner = null) => this with
    {
        Refresher = null,
        Acquirer = null,
        Store = store,
        RefreshTimeout = waitForOwner ?? RefreshTimeout,
        SharedLink = link,
    };
}
