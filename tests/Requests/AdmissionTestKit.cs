using Courier.Internal;

namespace Courier.Tests.Requests;

/// <summary>
/// The one set-up of the admission core's tests: a tiny host actor around <see cref="Admission{TItem,TResult}"/> whose
/// children report to <see cref="Children"/>, whose queue hooks report to <see cref="Depth"/>, and whose answers are
/// strings (<c>End:id</c>, with the running and queued counts when asked). Time is the TestScheduler's.
/// </summary>
public abstract class AdmissionTestKit : Akka.TestKit.Xunit2.TestKit
{
    protected AdmissionTestKit(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        Children = CreateTestProbe();
        Depth = CreateTestProbe();
    }

    /// <summary>Receives <see cref="Started"/> for each child started, and what each child is sent.</summary>
    protected TestProbe Children { get; }

    /// <summary>Receives <c>queued:id</c> and <c>dequeued:id</c> from the queue hooks (a queue-depth gauge's view).</summary>
    protected TestProbe Depth { get; }

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>Starts a host; <paramref name="countsInAnswers"/> adds "(N running, M queued)" to every answer.</summary>
    protected IActorRef StartHost(int maxRunning, int maxQueued, bool countsInAnswers = false) =>
        Sys.ActorOf(Props.Create(() => new Host(Children.Ref, Depth.Ref, maxRunning, maxQueued, countsInAnswers)));

    protected IActorRef ExpectStarted(long id)
    {
        var started = Children.ExpectMsg<Started>();
        Assert.Equal(id, started.Id);
        return started.Child;
    }

    /// <summary>Makes sure the host has processed everything sent before (timers included are scheduled).</summary>
    protected void Sync(IActorRef host)
    {
        host.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
    }

    /// <summary>Asks the running item to give its slot up while it waits (answered <c>parked:id</c> or <c>kept:id</c>).</summary>
    protected sealed record Park(long Id);

    /// <summary>A parked item wants a slot again (<c>unparked:id</c> goes to <see cref="Children"/> when it gets one).</summary>
    protected sealed record Unpark(long Id);

    protected sealed record Submit(long Id, TimeSpan? Deadline);

    /// <summary>The item ended with <paramref name="Result"/>; an unknown id is answered <c>unknown:id</c>.</summary>
    protected sealed record Finish(long Id, string Result);

    protected sealed record Cancel(long Id);

    protected sealed record Started(long Id, IActorRef Child);

    private sealed class Host : ReceiveActor, IAdmissionHost<Submit, string>
    {
        private readonly IActorRef _children;
        private readonly IActorRef _depth;
        private readonly bool _countsInAnswers;
        private readonly Admission<Submit, string> _admission;
        private readonly Queue<long> _wantSlot = new();

        public Host(IActorRef children, IActorRef depth, int maxRunning, int maxQueued, bool countsInAnswers)
        {
            _children = children;
            _depth = depth;
            _countsInAnswers = countsInAnswers;
            _admission = new Admission<Submit, string>(this, Context, maxRunning, maxQueued);
            Receive<Submit>(m => _admission.Submit(m.Id, m, Sender));
            Receive<Finish>(m =>
            {
                if (!_admission.Finished(m.Id, m.Result)) Sender.Tell($"unknown:{m.Id}");
            });
            Receive<Cancel>(m => _admission.Cancel(m.Id, m));
            Receive<QueueDeadlineReached>(_admission.DeadlineReached);
            Receive<Terminated>(m => _admission.ChildTerminated(m.ActorRef));
            Receive<Park>(m =>
            {
                var parked = _admission.TryPark(m.Id);
                Sender.Tell((parked ? "parked:" : "kept:") + m.Id);
                if (parked) _admission.SlotsChanged();
            });
            Receive<Unpark>(m =>
            {
                _wantSlot.Enqueue(m.Id);
                SlotsFreed();
            });
        }

        public void SlotsFreed()
        {
            while (_admission.HasFreeSlot && _wantSlot.TryDequeue(out var id))
                if (_admission.TryUnpark(id)) _children.Tell("unparked:" + id);
        }

        protected override void PostStop() => _admission.Stop();

        public IActorRef StartChild(long id, Submit item, DateTimeOffset submittedAt)
        {
            var child = Context.ActorOf(Props.Create(() => new Child(_children)));
            _children.Tell(new Started(id, child));
            return child;
        }

        public TimeSpan? QueueDeadline(Submit item) => item.Deadline;

        public string Answer(long id, Submit item, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt) =>
            _countsInAnswers ? $"{end}:{id} ({running} running, {queued} queued)" : $"{end}:{id}";

        public void Queued(Submit item) => _depth.Tell($"queued:{item.Id}");

        public void Dequeued(Submit item) => _depth.Tell($"dequeued:{item.Id}");

        public void Reply(IActorRef replyTo, string result) => replyTo.Tell(result);
    }

    private sealed class Child : ReceiveActor
    {
        public Child(IActorRef probe) => ReceiveAny(m => probe.Forward(m));
    }
}
