using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace Courier.Internal;

/// <summary>
/// Watches a coordinator from outside the actor system (the facade is not an actor) with Akka's own death watch: it
/// receives the <see cref="DeathWatchNotification"/> the coordinator sends its watchers when it terminates (at once, from
/// the dead-letter path, if it is already gone). The facade tracks every pending reply here, so a call or transfer whose
/// message the stopped coordinator never read (it went to dead letters) is still answered: no caller waits for ever.
/// One watch per coordinator, not one per call.
/// </summary>
internal sealed class CoordinatorWatch : MinimalActorRef
{
    private readonly ConcurrentDictionary<IPending, byte> _pending = new(ReferenceEqualityComparer.Instance);
    private volatile bool _terminated;

    private CoordinatorWatch(IInternalActorRef coordinator, ActorPath path)
    {
        Coordinator = coordinator;
        Provider = coordinator.Provider;
        Path = path;
        coordinator.SendSystemMessage(new Watch(coordinator, this));
    }

    /// <summary>What the watch completes when the coordinator stops.</summary>
    public interface IPending
    {
        void CoordinatorStopped();
    }

    public IInternalActorRef Coordinator { get; }

    /// <summary>
    /// The coordinator has terminated: its notification arrived, or (a cheap check, obsolete for actors and fine here: the
    /// watch is not an actor) the reference says so already, so a call made after shutdown is answered at once.
    /// </summary>
#pragma warning disable CS0618
    public bool Stopped => _terminated || Coordinator.IsTerminated;
#pragma warning restore CS0618

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    /// <summary>The watch of <paramref name="coordinator"/> kept in <paramref name="cached"/>: one per coordinator (hosting hands the same one every time).</summary>
    public static CoordinatorWatch For(ref CoordinatorWatch? cached, IActorRef coordinator)
    {
        var current = Volatile.Read(ref cached);
        if (current is not null && ReferenceEquals(current.Coordinator, coordinator)) return current;
        var created = Start(coordinator);
        Interlocked.CompareExchange(ref cached, created, current);
        return created;
    }

    /// <summary>Starts watching a local coordinator.</summary>
    /// <exception cref="InvalidOperationException">The coordinator is not a local actor.</exception>
    public static CoordinatorWatch Start(IActorRef coordinator)
    {
        if (coordinator is not IInternalActorRef { Provider: { } provider } local)
            throw new InvalidOperationException("The coordinator must be a local actor.");
        return new CoordinatorWatch(local, provider.TempPath());
    }

    /// <summary>
    /// Tracks <paramref name="pending"/> until the returned registration is disposed: if the coordinator has stopped or
    /// stops meanwhile, <see cref="IPending.CoordinatorStopped"/> is called.
    /// </summary>
    public Registration Track(IPending pending)
    {
        _pending.TryAdd(pending, 0);
        // Checked after adding: either this check sees the flag, or the sweep (which sets it first) sees the entry.
        if (_terminated) pending.CoordinatorStopped();
        return new Registration(this, pending);
    }

    public override void SendSystemMessage(ISystemMessage message)
    {
        if (message is not DeathWatchNotification) return;
        _terminated = true;
        foreach (var pending in _pending.Keys) pending.CoordinatorStopped();
    }

    /// <summary>Ends the tracking of one pending reply.</summary>
    public readonly struct Registration(CoordinatorWatch watch, IPending pending) : IDisposable
    {
        public void Dispose() => watch._pending.TryRemove(pending, out _);
    }
}
