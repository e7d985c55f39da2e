using Akka.Actor;
using Akka.Cluster;
using Akka.DistributedData;
using Akka.Event;
using Courier.Auth;

namespace Courier.Cluster;

/// <summary>
/// The one refresh owner of a cluster, run as a cluster singleton. Every node's TokenActor asks it for the successor of
/// the generation it used; it refreshes at most once per generation for the whole cluster (duplicates wait for that
/// one refresh), writes the new pair to Akka.DistributedData with a majority, and only then answers. Also the key under
/// which its proxy is registered in the <see cref="Akka.Hosting.ActorRegistry"/>.
/// </summary>
/// <remarks>
/// States: <c>Starting</c> (reading the register from a majority: a new owner continues from the highest generation it
/// can read, and seeds generation 1 from its node's store or configured tokens only when the register is empty),
/// <c>Ready</c>, <c>Refreshing</c> and <c>Writing</c> (the new record is not released before a majority holds it).
/// </remarks>
public sealed class CredentialOwner : ReceiveActor, IWithTimers, IWithUnboundedStash
{
    private const string RereadTimer = "reread";
    private const string RewriteTimer = "rewrite";
    private const string HandOverTimer = "hand-over";

    private readonly CredentialOwnerSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly IActorRef _replicator;
    private readonly UniqueAddress _node;
    private readonly LWWRegisterKey<CredentialRecord> _key;

    private CredentialRecord? _current;
    private long _refreshes;
    private long _rereadFor = -1;
    private bool _stopRequested;

    // The refresh in progress, and who waits for its outcome.
    private readonly HashSet<IActorRef> _waiters = [];
    private string _trigger = "";

    // The requests to the token endpoint: the refresh core the TokenActor uses too (null without a token endpoint).
    private RefreshCore? _core;

    // The write in progress.
    private CredentialRecord? _writing;
    private long _writeId;
    private readonly List<(IActorRef To, long RequestId)> _replaceWaiters = [];

    internal CredentialOwner(CredentialOwnerSettings settings)
    {
        _settings = settings;
        _replicator = DistributedData.Get(Context.System).Replicator;
        _node = Akka.Cluster.Cluster.Get(Context.System).SelfUniqueAddress;
        _key = new LWWRegisterKey<CredentialRecord>(settings.DataKey);
        Starting();
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    /// <inheritdoc />
    public IStash Stash { get; set; } = null!;

    internal static Props Props(CredentialOwnerSettings settings) =>
        Internal.FactoryProducer<CredentialOwner>.Props(() => new CredentialOwner(settings));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    /// <inheritdoc />
    protected override void PreStart()
    {
        if (_settings.Refresher is { } refresher)
            _core = new RefreshCore(refresher, new RefreshCoreSettings(_settings.AttemptTimeout, _settings.MaxRetries, _settings.DelayBeforeRetry), this, Self, _log);
        _replicator.Tell(Dsl.Subscribe(_key, Self));
        Read();
    }

    /// <inheritdoc />
    protected override void PostStop()
    {
        _core?.Stop();
    }

    // ---- Starting -------------------------------------------------------------------------------------------

    private void Read() => _replicator.Tell(Dsl.Get(_key, new ReadMajority(_settings.MajorityTimeout)));

    private void Starting()
    {
        Receive<IGetResponse>(r => r.IsFailure, _ =>
        {
            // No majority answered: do not guess (an old pair would be a reused refresh token). Ask again.
            _log.Warning("The credential register could not be read from a majority within {0} s; retrying.", _settings.MajorityTimeout.TotalSeconds);
            Timers.StartSingleTimer(RereadTimer, Reread.Instance, _settings.MajorityTimeout);
        });
        Receive<IGetResponse>(r => r.IsFound, r =>
        {
            Observe(r.Get(_key).Value);
            _log.Info("Credential owner on {0} continues from generation {1} (read from a majority).", _node.Address, _current!.Generation);
            BecomeReady();
        });
        Receive<IGetResponse>(_ =>
        {
            if (_current is not null)
            {
                BecomeReady();
                return;
            }
            // An empty register: a new cluster (or one restarted whole). Seed from this node's store or configuration.
            _settings.Store.LoadAsync(CancellationToken.None).PipeTo(Self,
                success: pair => new SeedLoaded(pair ?? _settings.Initial, null),
                failure: error => new SeedLoaded(_settings.Initial, error));
        });
        Receive<SeedLoaded>(m =>
        {
            if (m.Error is not null) _log.Warning("The token store could not be read to seed the cluster: {0}", m.Error.Message);
            if (m.Credentials is null)
            {
                _current = new CredentialRecord(0, null, "no credentials: sign in first", false, null, 0);
                _log.Info("No credentials to seed the cluster with: waiting for a sign-in.");
                BecomeReady();
                return;
            }
            _log.Info("Seeding the cluster's credentials: generation 1, {0}.", m.Credentials);
            Write(new CredentialRecord(1, m.Credentials, null, false, null, 0));
        });
        Receive<Reread>(_ => Read());
        Receive<Changed>(c => c.Key.Equals(_key), c => Observe(c.Get(_key).Value));
        Receive<GetCredentialOwnerStatus>(_ => Sender.Tell(Status("Starting")));
        Receive<StopCredentialOwner>(_ => Context.Stop(Self));
        ReceiveAny(_ => Stash.Stash());
    }

    /// <summary>Keeps the higher of the current record and one read or replicated.</summary>
    private void Observe(CredentialRecord record)
    {
        if (_current is null || record.Generation > _current.Generation) _current = record;
    }

    private void BecomeReady()
    {
        if (_stopRequested)
        {
            Context.Stop(Self);
            return;
        }
        Become(Ready);
        Stash.UnstashAll();
    }

    // ---- Ready ----------------------------------------------------------------------------------------------

    private void Ready()
    {
        Receive<RefreshCredentials>(m =>
        {
            var current = _current!;
            if (m.Generation < current.Generation || current.Credentials is null)
            {
                Sender.Tell(new CredentialsUpdated(current)); // someone already refreshed (or there is nothing to refresh)
                return;
            }
            if (m.Generation > current.Generation)
            {
                // A node knows a newer generation than this owner: read the majority once more before answering.
                if (_rereadFor < m.Generation)
                {
                    _rereadFor = m.Generation;
                    Stash.Stash();
                    Become(Starting);
                    Read();
                    return;
                }
                Sender.Tell(new CredentialRefreshFailed(m.Generation, $"the credential owner knows no generation newer than {current.Generation}", 0));
                return;
            }
            StartRefresh(m.Trigger, current);
        });
        Receive<GetCredentials>(_ => Sender.Tell(new CredentialsUpdated(_current!)));
        Receive<ReplaceCredentials>(m =>
        {
            _replaceWaiters.Add((Sender, m.RequestId));
            var generation = _current!.Generation + 1;
            _log.Info("Credentials replaced by a {0}: generation {1}.", m.Credentials is null ? "sign-out" : "sign-in", generation);
            Write(new CredentialRecord(generation, m.Credentials, m.Credentials is null ? "signed out" : null, false, null, 0));
        });
        Receive<Changed>(c => c.Key.Equals(_key), c => Observe(c.Get(_key).Value));
        Receive<GetCredentialOwnerStatus>(_ => Sender.Tell(Status("Ready")));
        Receive<StopCredentialOwner>(_ => Context.Stop(Self));
        CoreHandlers();
        ReceiveAny(_ => { }); // stale timers
    }

    // ---- Refreshing -----------------------------------------------------------------------------------------

    private void StartRefresh(string trigger, CredentialRecord current)
    {
        _waiters.Clear();
        _waiters.Add(Sender);
        _trigger = trigger;
        if (current.Credentials!.RefreshToken is null || _core is null)
        {
            var reason = _core is null ? "no token endpoint is configured (Courier:Auth:RefreshEndpoint)" : "there is no refresh token to renew the access token";
            _log.Warning("The credentials cannot be refreshed: {0}. Every node signs out.", reason);
            Write(new CredentialRecord(current.Generation + 1, null, reason, true, trigger, 0));
            return;
        }
        _log.Info("Refreshing the cluster's access token (generation {0}, {1}).", current.Generation, trigger);
        Become(Refreshing);
        _core.Begin(current.Credentials.RefreshToken);
    }

    private void Refreshing()
    {
        Receive<RefreshCredentials>(m =>
        {
            if (m.Generation < _current!.Generation) Sender.Tell(new CredentialsUpdated(_current));
            else _waiters.Add(Sender); // the same generation (or a resend): one refresh answers them all
        });
        Receive<GetCredentials>(_ => Sender.Tell(new CredentialsUpdated(_current!)));
        CoreHandlers();
        Receive<Changed>(c => c.Key.Equals(_key), c => Observe(c.Get(_key).Value));
        Receive<GetCredentialOwnerStatus>(_ => Sender.Tell(Status("Refreshing")));
        Receive<StopCredentialOwner>(_ => RequestStop());
        Receive<HandOverDeadline>(_ => StopNow());
        ReceiveAny(_ => Stash.Stash());
    }

    /// <summary>The refresh core's messages (Ready and Refreshing; the other states stash them).</summary>
    private void CoreHandlers()
    {
        Receive<RefreshAnswered>(m => Carry(_core!.OnAnswered(m, _current?.Credentials?.RefreshToken, Now)));
        Receive<RefreshAttemptTimedOut>(m => Carry(_core!.OnAttemptTimedOut(m)));
        Receive<RefreshRetryDue>(m => _core!.OnRetryDue(m));
        Receive<RefreshInDoubtOver>(m => _core!.OnInDoubtOver(m));
    }

    /// <summary>Carries out a decision of the refresh core.</summary>
    private void Carry(RefreshDecision? decision)
    {
        var current = _current!;
        switch (decision)
        {
            case null:
                return;
            case RefreshDecision.Adopt adopt:
                if (current.Credentials is null) return; // signed out meanwhile: a late answer has nothing to replace
                _refreshes++;
                Write(new CredentialRecord(current.Generation + 1, adopt.Pair, null, false, _waiters.Count > 0 ? _trigger : "late answer", adopt.Attempts));
                return;
            case RefreshDecision.SignOut signOut:
                _log.Warning("The token endpoint refused the refresh token: {0}. Every node signs out.", signOut.Reason);
                Write(new CredentialRecord(current.Generation + 1, null, signOut.Reason, true, _trigger, signOut.Attempts));
                return;
            case RefreshDecision.RetryAfter retry:
                _log.Info("The token refresh failed ({0}); retrying in {1} ms.", retry.Reason, (long)retry.Delay.TotalMilliseconds);
                Context.System.EventStream.Publish(new TokenRefreshFailed(retry.Reason, retry.Attempt, retry.Delay));
                return;
            case RefreshDecision.GiveUp giveUp:
                _log.Warning("The token refresh failed {0} time(s), last: {1}; {2} waiting node(s) fail their calls.", giveUp.Attempts, giveUp.Reason, _waiters.Count);
                Context.System.EventStream.Publish(new TokenRefreshFailed(giveUp.Reason, giveUp.Attempts, null));
                foreach (var waiter in _waiters) waiter.Tell(new CredentialRefreshFailed(current.Generation, giveUp.Reason, giveUp.Attempts));
                _waiters.Clear();
                BecomeReady();
                return;
        }
    }

    // ---- Writing --------------------------------------------------------------------------------------------

    /// <summary>Writes <paramref name="record"/> to a majority; the waiters are answered only then.</summary>
    private void Write(CredentialRecord record)
    {
        _writing = record;
        Become(Writing);
        SendWrite();
    }

    private void SendWrite()
    {
        var record = _writing!;
        var id = ++_writeId;
        Clock<CredentialRecord> clock = GenerationClock;
        _replicator.Tell(Dsl.Update(_key, new LWWRegister<CredentialRecord>(_node, record, clock), new WriteMajority(_settings.MajorityTimeout), id,
            register => register.Value.Generation >= record.Generation ? register : register.WithValue(_node, record, clock)));
    }

    /// <summary>The register's clock: the generation, so that the highest generation wins a merge whatever the wall clocks say.</summary>
    private static long GenerationClock(long currentTimestamp, CredentialRecord value) => value.Generation;

    private void Writing()
    {
        Receive<IUpdateResponse>(r => r.Request is long id && id == _writeId, r =>
        {
            if (!r.IsSuccessful)
            {
                // The local replica has it; a majority has not confirmed. Keep the waiters waiting and write again.
                _log.Warning("Generation {0} was not confirmed by a majority within {1} s ({2}); writing again.",
                    _writing!.Generation, _settings.MajorityTimeout.TotalSeconds, r.GetType().Name);
                Timers.StartSingleTimer(RewriteTimer, Rewrite.Instance, TimeSpan.FromTicks(_settings.MajorityTimeout.Ticks / 4));
                return;
            }
            var record = _writing!;
            _writing = null;
            Observe(record);
            var answer = new CredentialsUpdated(_current!);
            foreach (var waiter in _waiters) waiter.Tell(answer);
            foreach (var (to, requestId) in _replaceWaiters) to.Tell(new CredentialsReplaced(requestId, _current!));
            _log.Info("Generation {0} written to a majority; {1} waiting node(s) answered.", record.Generation, _waiters.Count + _replaceWaiters.Count);
            _waiters.Clear();
            _replaceWaiters.Clear();
            Timers.Cancel(HandOverTimer);
            BecomeReady();
        });
        Receive<Rewrite>(_ => SendWrite());
        Receive<RefreshCredentials>(m => m.Generation < _writing!.Generation, _ => _waiters.Add(Sender));
        Receive<GetCredentials>(_ => _waiters.Add(Sender));
        Receive<Changed>(c => c.Key.Equals(_key), c => Observe(c.Get(_key).Value));
        Receive<GetCredentialOwnerStatus>(_ => Sender.Tell(Status("Writing")));
        Receive<StopCredentialOwner>(_ => RequestStop());
        Receive<HandOverDeadline>(_ => StopNow());
        ReceiveAny(_ => Stash.Stash());
    }

    // ---- hand-over ------------------------------------------------------------------------------------------

    /// <summary>A graceful hand-over waits for the refresh in progress and its write, so that the next owner reads the new pair.</summary>
    private void RequestStop()
    {
        _stopRequested = true;
        if (!Timers.IsTimerActive(HandOverTimer)) Timers.StartSingleTimer(HandOverTimer, HandOverDeadline.Instance, _settings.HandOverTimeout);
    }

    private void StopNow()
    {
        _log.Warning("The refresh in progress did not finish within {0} s of the hand-over; the next owner continues from the register.",
            _settings.HandOverTimeout.TotalSeconds);
        Context.Stop(Self);
    }

    private CredentialOwnerStatus Status(string state) => new(state, _current?.Generation ?? 0, _node.Address.ToString(), _refreshes);

    // ---- private protocol -----------------------------------------------------------------------------------

    private sealed record SeedLoaded(TokenPair? Credentials, Exception? Error)
    {
        public override string ToString() => $"SeedLoaded({Credentials})";
    }

    private sealed record Reread
    {
        public static readonly Reread Instance = new();
    }

    private sealed record Rewrite
    {
        public static readonly Rewrite Instance = new();
    }

    private sealed record HandOverDeadline
    {
        public static readonly HandOverDeadline Instance = new();
    }
}

/// <summary>The owner's settings, copied at start.</summary>
internal sealed class CredentialOwnerSettings
{
    /// <summary>Null when no token endpoint is configured: a refused token then signs every node out.</summary>
    public ITokenRefresher? Refresher { get; init; }
    /// <summary>This node's store: read only to seed an empty register.</summary>
    public required ITokenStore Store { get; init; }
    public TokenPair? Initial { get; init; }
    public TimeSpan AttemptTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public int MaxRetries { get; init; } = 3;
    public required Func<int, TimeSpan> DelayBeforeRetry { get; init; }
    public string DataKey { get; init; } = "courier-credentials";
    public TimeSpan MajorityTimeout { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan HandOverTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
