using Akka.Actor;
using Akka.DistributedData;
using Akka.Event;
using Courier.Auth;

namespace Courier.Cluster;

/// <summary>
/// The clustered refresh step of one node's TokenActor (its child): it talks to the <see cref="CredentialOwner"/> through
/// a singleton proxy and follows the replicated register, and tells its parent each newer generation once, whoever
/// caused it (this node's request, another node's refresh, a sign-in anywhere, a new owner's seed).
/// </summary>
/// <remarks>
/// An unanswered request is repeated every <see cref="ClusteredCredentialsOptions.ResendInterval"/> until the refresh
/// timeout: a message sent to an owner that is handing over can be lost, and the owner refreshes once per generation
/// however often it is asked. The proxy buffers while no owner is known.
/// </remarks>
internal sealed class CredentialLink : ReceiveActor, IWithTimers
{
    private const string ResendTimer = "resend";
    private const string HelloTimer = "hello";

    private readonly CredentialLinkSettings _settings;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly LWWRegisterKey<CredentialRecord> _key;
    private IActorRef _owner = ActorRefs.Nobody;

    private long _known = -1;
    private CredentialRecord? _knownRecord;
    private RefreshCredentials? _pending;
    private DateTimeOffset _pendingUntil;
    private long _nextRequestId;
    private readonly Dictionary<long, IActorRef> _signIns = [];

    public CredentialLink(CredentialLinkSettings settings)
    {
        _settings = settings;
        _key = new LWWRegisterKey<CredentialRecord>(settings.DataKey);

        Receive<Changed>(c => c.Key.Equals(_key), c => Learn(c.Get(_key).Value));
        Receive<CredentialsUpdated>(m => Learn(m.Record));
        Receive<CredentialsReplaced>(m =>
        {
            Learn(m.Record);
            if (_signIns.Remove(m.RequestId, out var caller)) caller.Tell(new SignedIn(m.Record.Generation));
        });
        Receive<CredentialRefreshFailed>(m =>
        {
            if (_pending?.Generation != m.Generation) return;
            StopResending();
            Context.Parent.Tell(new SharedRefreshFailed(m.Generation, m.Reason, m.Attempts));
        });
        Receive<SharedRefreshRequest>(m =>
        {
            if (m.Generation < _known) return; // the parent already has (or is being sent) a newer generation
            _pending = new RefreshCredentials(m.Generation, m.Trigger, _knownRecord);
            _pendingUntil = Now + _settings.RefreshTimeout;
            _owner.Tell(_pending);
            Timers.StartPeriodicTimer(ResendTimer, Resend.Instance, _settings.ResendInterval);
        });
        Receive<Resend>(_ =>
        {
            if (_pending is null || Now >= _pendingUntil) StopResending();
            else _owner.Tell(_pending);
        });
        Receive<SharedSignIn>(m =>
        {
            var id = ++_nextRequestId;
            _signIns[id] = Sender;
            _owner.Tell(new ReplaceCredentials(id, m.Credentials));
        });
        Receive<SharedSignOut>(_ => _owner.Tell(new ReplaceCredentials(0, null)));
        Receive<Hello>(_ =>
        {
            if (_known >= 0) Timers.Cancel(HelloTimer);
            else _owner.Tell(GetCredentials.Instance);
        });
    }

    /// <inheritdoc />
    public ITimerScheduler Timers { get; set; } = null!;

    internal static Props Props(CredentialLinkSettings settings) =>
        Internal.FactoryProducer<CredentialLink>.Props(() => new CredentialLink(settings));

    private DateTimeOffset Now => Context.System.Scheduler.Now;

    /// <inheritdoc />
    protected override void PreStart()
    {
        // The node's one owner proxy when it was started with the runtime (NodeCredentials), else a proxy of the link's own.
        _owner = _settings.OwnerProxy ?? Context.ActorOf(NodeCredentials.OwnerProxyProps(Context.System, _settings.SingletonName, _settings.Role), "owner");
        DistributedData.Get(Context.System).Replicator.Tell(Dsl.Subscribe(_key, Self));
        // The register may be empty until the owner has seeded it: ask the owner too, until something arrives.
        _owner.Tell(GetCredentials.Instance);
        Timers.StartPeriodicTimer(HelloTimer, Hello.Instance, _settings.ResendInterval);
    }

    private void Learn(CredentialRecord record)
    {
        if (record.Generation <= _known) return;
        _known = record.Generation;
        _knownRecord = record;
        if (_pending is not null && record.Generation > _pending.Generation) StopResending();
        _log.Debug("Shared credentials: generation {0}.", record.Generation);
        Context.Parent.Tell(record.ToShared());
    }

    private void StopResending()
    {
        _pending = null;
        Timers.Cancel(ResendTimer);
    }

    private sealed record Resend
    {
        public static readonly Resend Instance = new();
    }

    private sealed record Hello
    {
        public static readonly Hello Instance = new();
    }
}

/// <summary>The link's settings, copied at start.</summary>
internal sealed record CredentialLinkSettings
{
    /// <summary>The node's proxy of the owner singleton, shared with the actor registry; null: the link starts its own.</summary>
    public IActorRef? OwnerProxy { get; init; }

    public required string SingletonName { get; init; }
    public string? Role { get; init; }
    public required string DataKey { get; init; }
    public TimeSpan ResendInterval { get; init; } = TimeSpan.FromSeconds(1);
    public TimeSpan RefreshTimeout { get; init; } = TimeSpan.FromSeconds(30);
}
