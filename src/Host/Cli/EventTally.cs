using Akka.Actor;

namespace Courier.Host.Cli;

/// <summary>Counts the events of type <typeparamref name="T"/> published on an actor system's event stream, for summaries.</summary>
internal sealed class EventTally<T>
{
    private long _count;

    public EventTally(ActorSystem system)
    {
        var listener = system.ActorOf(Props.Create(() => new Listener(this)));
        system.EventStream.Subscribe(listener, typeof(T));
    }

    public long Count => Interlocked.Read(ref _count);

    private sealed class Listener : ReceiveActor
    {
        public Listener(EventTally<T> tally) => Receive<T>(_ => Interlocked.Increment(ref tally._count));
    }
}
