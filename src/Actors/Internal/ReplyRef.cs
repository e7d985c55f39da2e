using Akka.Actor;

namespace Courier.Internal;

/// <summary>
/// The reply address of one call or transfer made through the facade: an actor reference that completes a task with the
/// coordinator's answer. It replaces <c>Ask</c>, which registers a temporary actor and starts a timeout timer for every
/// call. The caller's task is completed by whichever comes first: the coordinator's answer, the caller's cancellation
/// (<see cref="TryComplete"/>), or the coordinator's termination (<see cref="CoordinatorWatch"/>); later answers release
/// what they hold (<c>late</c>: a late successful response is disposed).
/// <para>Every completion runs as its own work item on the thread pool's global queue, first in, first out, and the
/// caller's continuation runs there. Completed where the answer arrives (the coordinator's thread), the continuations
/// went to that thread's local queue, which its owner takes last in, first out: under load, a few callers waited behind
/// many later ones (the <c>overhead</c> bench: p99 at C = 256 down from 18 to 10 ms, the median up from 14 to 0.5 ms,
/// the mean unchanged: the same waits, fairly shared).</para>
/// </summary>
internal sealed class ReplyRef<TResult> : MinimalActorRef, CoordinatorWatch.IPending where TResult : class
{
    // Continuations run synchronously, on the work item that completes the task (never on the thread that called
    // TryComplete: see TryComplete).
    private readonly TaskCompletionSource<TResult> _completion = new();
    private readonly Func<object, TResult> _stopped;
    private readonly object _stoppedState;
    private readonly Action<TResult>? _late;
    private int _answered; // 1 once the answer that completes the task is chosen

    /// <param name="provider">The actor system's provider.</param>
    /// <param name="path">A path for log lines only: it is never looked up.</param>
    /// <param name="stopped">The answer when the coordinator stopped without answering, made from <paramref name="stoppedState"/>
    /// (a static delegate and a state: no closure per call).</param>
    /// <param name="stoppedState">What <paramref name="stopped"/> is given.</param>
    /// <param name="late">Releases an answer that came after the task was completed.</param>
    public ReplyRef(IActorRefProvider provider, ActorPath path, Func<object, TResult> stopped, object stoppedState, Action<TResult>? late = null)
    {
        Provider = provider;
        Path = path;
        _stopped = stopped;
        _stoppedState = stoppedState;
        _late = late;
    }

    /// <summary>A reply whose answer when the coordinator stopped is made by <paramref name="stopped"/>.</summary>
    public ReplyRef(IActorRefProvider provider, ActorPath path, Func<TResult> stopped, Action<TResult>? late = null)
        : this(provider, path, static state => ((Func<TResult>)state)(), stopped, late)
    {
    }

    public Task<TResult> Task => _completion.Task;

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is TResult result) TryComplete(result);
    }

    /// <summary>
    /// Completes the caller's task with <paramref name="result"/> if it is the first answer given, on the thread pool's
    /// global queue; a later answer releases what it holds at once. The first answer is chosen here, when it is given, not
    /// when its work item runs: two work items queued one after the other can run on two pool threads and finish in
    /// either order, and a later "the coordinator stopped" then overtook the coordinator's own answer (ReplyRefTests).
    /// </summary>
    public void TryComplete(TResult result)
    {
        if (Interlocked.Exchange(ref _answered, 1) != 0)
        {
            _late?.Invoke(result);
            return;
        }
        ThreadPool.UnsafeQueueUserWorkItem(static state => state.Reply._completion.SetResult(state.Result), (Reply: this, Result: result), preferLocal: false);
    }

    void CoordinatorWatch.IPending.CoordinatorStopped()
    {
        if (Volatile.Read(ref _answered) == 0) TryComplete(_stopped(_stoppedState));
    }
}
