using System.Collections.Concurrent;
using Akka.Actor;
using Akka.Dispatch.SysMsg;

namespace Courier.Internal;

/// <summary>
/// The reply address of one call or transfer made through the facade: an actor reference that completes a task with the
/// coordinator's answer. It replaces <c>Ask</c>, which registers a temporary actor and starts a timeout timer for every
/// call. The caller's task is completed by whichever comes first: the coordinator's answer, the caller's cancellation
/// (<see cref="TryComplete"/>), or the coordinator's termination (<see cref="CoordinatorWatch"/>); later answers release
/// what they hold (<c>late</c>: a late successful response is disposed).
/// </summary>
internal sealed class ReplyRef<TResult> : MinimalActorRef, CoordinatorWatch.IPending where TResult : class
{
    private readonly TaskCompletionSource<TResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Func<TResult> _stopped;
    private readonly Action<TResult>? _late;

    /// <param name="provider">The actor system's provider.</param>
    /// <param name="path">A path for log lines only: it is never looked up.</param>
    /// <param name="stopped">The answer when the coordinator stopped without answering.</param>
    /// <param name="late">Releases an answer that came after the task was completed.</param>
    public ReplyRef(IActorRefProvider provider, ActorPath path, Func<TResult> stopped, Action<TResult>? late = null)
    {
        Provider = provider;
        Path = path;
        _stopped = stopped;
        _late = late;
    }

    public Task<TResult> Task => _completion.Task;

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is TResult result) TryComplete(result);
    }

    /// <summary>Completes the caller's task; a second answer releases what it holds.</summary>
    public void TryComplete(TResult result)
    {
        if (!_completion.TrySetResult(result)) _late?.Invoke(result);
    }

    void CoordinatorWatch.IPending.CoordinatorStopped()
    {
        if (!_completion.Task.IsCompleted) TryComplete(_stopped());
    }
}

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

    /// <summary>The coordinator has terminated.</summary>
    public bool Stopped => _terminated;

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

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
