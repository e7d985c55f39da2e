using Akka.Actor;

namespace Courier.Internal;

/// <summary>
/// A one-shot timer whose scheduler registration holds its target weakly. Akka's hashed-wheel scheduler keeps a
/// cancelled registration until the time it was due; a timer that is almost always cancelled (an attempt timeout of 15 s,
/// a deadline of 60 s) would keep its finished, stopped actor reachable that long, and at thousands of calls per second
/// that is most of the heap (bench/RESULTS.md, batch). With a weak target a cancelled timer pins a few dozen bytes.
/// Time still goes through the actor system's scheduler, so TestScheduler drives it like any timer.
/// </summary>
internal static class WeakTimer
{
    public static ICancelable ScheduleTellOnce(IScheduler scheduler, TimeSpan delay, IActorRef target, object message)
    {
        var cancelable = new Cancelable(scheduler);
        var weakTarget = new WeakReference<IActorRef>(target);
        scheduler.Advanced.ScheduleOnce(delay, () =>
        {
            if (weakTarget.TryGetTarget(out var alive)) alive.Tell(message, ActorRefs.NoSender);
        }, cancelable);
        return cancelable;
    }
}
