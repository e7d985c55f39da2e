using Akka.Actor;

namespace Courier.Internal;

/// <summary>Why a coordinator answered an item itself instead of letting its actor do it.</summary>
internal enum AdmissionEnd
{
    /// <summary>An item with the same id is already queued or running.</summary>
    Duplicate,

    /// <summary>The cap is reached and the queue is full.</summary>
    QueueFull,

    /// <summary>Cancelled while it waited in the queue.</summary>
    CancelledInQueue,

    /// <summary>Its deadline came while it waited in the queue.</summary>
    DeadlineInQueue,

    /// <summary>The actor running it stopped without reporting (it threw).</summary>
    Crashed,

    /// <summary>The coordinator stopped while the item waited in the queue.</summary>
    StoppedInQueue,

    /// <summary>The coordinator stopped while the item was running.</summary>
    StoppedRunning,
}

/// <summary>What a coordinator supplies to its <see cref="Admission{TItem, TResult}"/>: how to run an item and how to answer it.</summary>
internal interface IAdmissionHost<in TItem, TResult>
{
    /// <summary>Spawns the child that runs <paramref name="item"/>; it reports its one result to the coordinator.</summary>
    IActorRef StartChild(long id, TItem item, DateTimeOffset submittedAt);

    /// <summary>How long <paramref name="item"/> may wait in the queue before it is answered; null when it may wait for ever.</summary>
    TimeSpan? QueueDeadline(TItem item);

    /// <summary>The answer to an item the coordinator ends itself (<paramref name="end"/> says why; it was submitted at <paramref name="submittedAt"/>).</summary>
    TResult Answer(long id, TItem item, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt);

    /// <summary>An item entered the queue behind the cap (for gauges; nothing to do by default).</summary>
    void Queued(TItem item)
    {
    }

    /// <summary>An item left the queue: started, cancelled, expired, or answered at the stop (nothing to do by default).</summary>
    void Dequeued(TItem item)
    {
    }

    /// <summary>
    /// A slot may be free (an item ended, or was parked): called before queued items start, so that parked items waiting
    /// for a slot (<see cref="Admission{TItem, TResult}.TryUnpark"/>) are served before new ones (nothing by default).
    /// </summary>
    void SlotsFreed()
    {
    }

    /// <summary>Sends a result to the item's reply address (and publishes it, where the coordinator does).</summary>
    void Reply(IActorRef replyTo, TResult result);
}

/// <summary>
/// The slots of a cap, seen by an item that waits for something else while it runs (a call waiting for its host): it
/// gives its slot up while it waits and takes one again before it goes on. <see cref="Admission{TItem, TResult}"/> implements it.
/// </summary>
internal interface IParkingSlots
{
    /// <summary>A parked item could take a slot now.</summary>
    bool HasFreeSlot { get; }

    /// <summary>The running item stops counting against the cap; false (it keeps its slot) when there is no room to wait.</summary>
    bool TryPark(long id);

    /// <summary>True when the item is parked.</summary>
    bool IsParked(long id);

    /// <summary>The parked item takes a slot again; false when the cap is full.</summary>
    bool TryUnpark(long id);

    /// <summary>Slots may have been freed by <see cref="TryPark"/>: waiting items take them.</summary>
    void SlotsChanged();
}

/// <summary>The timer message of a queued item's deadline (the ticket tells a stale timer from the current one).</summary>
internal sealed record QueueDeadlineReached(long Id, long Ticket);

/// <summary>
/// The admission core of a coordinator (requests and transfers share it): a cap on the items running at once, a bounded
/// first-in-first-out queue behind it, a deadline timer for each queued item that has one, cancellation of queued and
/// running items, refusal of a second item with an id already in flight, and <see cref="Stop"/>, which answers every
/// item it knows. Every item submitted gets exactly one answer through <see cref="IAdmissionHost{TItem, TResult}.Reply"/>.
/// A running item may be parked while it waits for something else (<see cref="TryPark"/>: a call waiting for its host):
/// it stays running but does not count against the cap, so the next queued item may start; it takes a slot again with
/// <see cref="TryUnpark"/> before it goes on. The items that wait without a slot, queued or parked, are at most
/// <c>maxQueued</c>.
/// </summary>
/// <remarks>
/// Not an actor: it lives inside its coordinator and is called from the coordinator's receive only (not thread-safe).
/// The coordinator keeps what differs: validation of the item, the child actor, the messages of its protocol.
/// </remarks>
internal sealed class Admission<TItem, TResult> : IParkingSlots
{
    private readonly IAdmissionHost<TItem, TResult> _host;
    private readonly IActorContext _context;
    private readonly int _maxRunning;
    private readonly int _maxQueued;
    private readonly bool _hostWatchesChildren;
    private readonly Dictionary<long, Running> _running = new();
    private readonly IndexedQueue<Queued> _queue = new();
    private readonly HashSet<long> _parked = [];
    private long _tickets;

    /// <param name="host">The coordinator.</param>
    /// <param name="context">The coordinator's context.</param>
    /// <param name="maxRunning">The cap on items running at once.</param>
    /// <param name="maxQueued">The bound on items waiting without a slot (queued or parked).</param>
    /// <param name="hostWatchesChildren">False (the default): each child is watched while it runs an item, from
    /// <see cref="IAdmissionHost{TItem, TResult}.StartChild"/> to its report. True: the host watches its children itself,
    /// for as long as they live (children reused for item after item: a watch and an unwatch per item are two system
    /// messages and four hash-set updates each way that a reused child does not need, bench/RESULTS.md); the host passes
    /// every <see cref="Terminated"/> to <see cref="ChildTerminated"/>, whether or not that child was running an item.</param>
    public Admission(IAdmissionHost<TItem, TResult> host, IActorContext context, int maxRunning, int maxQueued, bool hostWatchesChildren = false)
    {
        _hostWatchesChildren = hostWatchesChildren;
        _host = host;
        _context = context;
        _maxRunning = maxRunning;
        _maxQueued = maxQueued;
    }

    public int RunningCount => _running.Count;

    /// <summary>The running items that count against the cap (not parked).</summary>
    public int ActiveCount => _running.Count - _parked.Count;

    /// <summary>The running items parked: they wait without a slot.</summary>
    public int ParkedCount => _parked.Count;

    /// <summary>A parked item could take a slot now.</summary>
    public bool HasFreeSlot => ActiveCount < _maxRunning;

    public int QueuedCount => _queue.Count;

    /// <summary>Runs the item now, queues it behind the cap, or answers it (duplicate id, full queue).</summary>
    public void Submit(long id, TItem item, IActorRef replyTo)
    {
        if (_running.ContainsKey(id) || _queue.Contains(id))
        {
            // Two items with one id: their answers and their cancellations could not be told apart.
            _host.Reply(replyTo, _host.Answer(id, item, AdmissionEnd.Duplicate, _running.Count, _queue.Count, _context.System.Scheduler.Now));
            return;
        }
        var submittedAt = _context.System.Scheduler.Now;
        if (ActiveCount < _maxRunning)
        {
            Start(id, item, replyTo, submittedAt); // no queue entry for an item that starts at once
            return;
        }
        if (_queue.Count + _parked.Count >= _maxQueued)
        {
            // Counted as the bounds count them: parked items wait without a slot, as queued ones do.
            _host.Reply(replyTo, _host.Answer(id, item, AdmissionEnd.QueueFull, ActiveCount, _queue.Count + _parked.Count, submittedAt));
            return;
        }
        ICancelable? timer = null;
        var ticket = ++_tickets;
        if (_host.QueueDeadline(item) is { } deadline)
            timer = WeakTimer.ScheduleTellOnce(_context.System.Scheduler, deadline, _context.Self, new QueueDeadlineReached(id, ticket));
        _queue.Enqueue(id, new Queued(id, item, replyTo, submittedAt, ticket, timer));
        _host.Queued(item);
    }

    /// <summary>The child's one report: answers the item and starts the next queued one. False when the id is unknown.</summary>
    public bool Finished(long id, TResult result)
    {
        if (!_running.Remove(id, out var running)) return false;
        _parked.Remove(id);
        if (!_hostWatchesChildren) _context.Unwatch(running.Child);
        _host.Reply(running.ReplyTo, result);
        StartNextQueued();
        return true;
    }

    /// <summary>A watched child stopped: one that had not reported crashed, and its item is answered.</summary>
    /// <returns>The id of the crashed child's item, or null when the child had reported (or is unknown).</returns>
    /// <remarks>
    /// A child that stops without reporting is rare (it threw), so the item it ran is looked up here, in the running
    /// items, rather than kept in a second map updated twice per item (an actor reference's hash code walks its path).
    /// </remarks>
    public long? ChildTerminated(IActorRef child)
    {
        long? found = null;
        foreach (var (id, running) in _running)
        {
            if (!running.Child.Equals(child)) continue;
            found = id;
            break;
        }
        if (found is not { } crashed) return null;
        _running.Remove(crashed, out var item);
        _parked.Remove(crashed);
        _host.Reply(item!.ReplyTo, _host.Answer(crashed, item.Item, AdmissionEnd.Crashed, _running.Count, _queue.Count, item.SubmittedAt));
        StartNextQueued();
        return crashed;
    }

    /// <summary>A queued item is answered at once; a running one gets <paramref name="message"/> (its actor answers).</summary>
    public void Cancel(long id, object message)
    {
        if (_running.TryGetValue(id, out var running))
        {
            running.Child.Tell(message, _context.Sender);
            return;
        }
        if (_queue.TryRemove(id, out var queued))
        {
            queued.Timer?.Cancel();
            _host.Dequeued(queued.Item);
            _host.Reply(queued.ReplyTo, _host.Answer(id, queued.Item, AdmissionEnd.CancelledInQueue, _running.Count, _queue.Count, queued.SubmittedAt));
        }
    }

    /// <summary>A queued item's deadline came: it leaves the queue with its answer (a stale timer does nothing).</summary>
    public void DeadlineReached(QueueDeadlineReached message)
    {
        if (!_queue.TryGetValue(message.Id, out var queued) || queued.Ticket != message.Ticket) return;
        _queue.TryRemove(message.Id, out _);
        _host.Dequeued(queued.Item);
        _host.Reply(queued.ReplyTo, _host.Answer(message.Id, queued.Item, AdmissionEnd.DeadlineInQueue, _running.Count, _queue.Count, queued.SubmittedAt));
    }

    /// <summary>The coordinator stops (call from <c>PostStop</c>): every item still running or queued is answered now.</summary>
    public void Stop()
    {
        foreach (var (id, running) in _running)
            _host.Reply(running.ReplyTo, _host.Answer(id, running.Item, AdmissionEnd.StoppedRunning, 0, 0, running.SubmittedAt));
        foreach (var queued in _queue)
        {
            queued.Timer?.Cancel();
            _host.Dequeued(queued.Item);
            _host.Reply(queued.ReplyTo, _host.Answer(queued.Id, queued.Item, AdmissionEnd.StoppedInQueue, 0, 0, queued.SubmittedAt));
        }
        _running.Clear();
        _parked.Clear();
        _queue.Clear();
    }

    /// <summary>
    /// The running item waits for something other than a slot: it stops counting against the cap, and queued items may
    /// start (call <see cref="SlotsChanged"/> after). False when it is unknown, already parked, or there is no room to wait
    /// without a slot (queued and parked items are at most <c>maxQueued</c>): it then keeps its slot.
    /// </summary>
    public bool TryPark(long id)
    {
        if (!_running.ContainsKey(id) || _parked.Contains(id) || _queue.Count + _parked.Count >= _maxQueued) return false;
        _parked.Add(id);
        return true;
    }

    /// <summary>True when the item is parked (it must take a slot with <see cref="TryUnpark"/> before it goes on).</summary>
    public bool IsParked(long id) => _parked.Contains(id);

    /// <summary>The parked item takes a slot again; false (it stays parked) when the cap is full.</summary>
    public bool TryUnpark(long id)
    {
        if (!_parked.Contains(id) || !HasFreeSlot) return false;
        _parked.Remove(id);
        return true;
    }

    /// <summary>Slots may have been freed (an item was parked): parked items waiting for one, then queued items, take them.</summary>
    public void SlotsChanged() => StartNextQueued();

    private void Start(long id, TItem item, IActorRef replyTo, DateTimeOffset submittedAt)
    {
        var child = _host.StartChild(id, item, submittedAt);
        if (!_hostWatchesChildren) _context.Watch(child);
        _running[id] = new Running(item, replyTo, child, submittedAt);
    }

    private void StartNextQueued()
    {
        if (HasFreeSlot) _host.SlotsFreed();
        while (HasFreeSlot && _queue.TryDequeue(q => q.Id, out var next))
        {
            next.Timer?.Cancel();
            _host.Dequeued(next.Item);
            Start(next.Id, next.Item, next.ReplyTo, next.SubmittedAt);
        }
    }

    private sealed record Queued(long Id, TItem Item, IActorRef ReplyTo, DateTimeOffset SubmittedAt, long Ticket, ICancelable? Timer);

    private sealed record Running(TItem Item, IActorRef ReplyTo, IActorRef Child, DateTimeOffset SubmittedAt);
}
