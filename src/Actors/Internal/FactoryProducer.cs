using Akka.Actor;

namespace Courier.Internal;

/// <summary>
/// Creates actors from a delegate: no reflection and no expression compilation per actor, which matters for the
/// one-actor-per-call request path, and it lets actors keep internal constructors.
/// </summary>
internal sealed class FactoryProducer<TActor>(Func<TActor> factory) : IIndirectActorProducer where TActor : ActorBase
{
    public Type ActorType => typeof(TActor);

    public ActorBase Produce() => factory();

    public void Release(ActorBase actor)
    {
    }

    public static Props Props(Func<TActor> factory) => Akka.Actor.Props.CreateBy(new FactoryProducer<TActor>(factory));
}
