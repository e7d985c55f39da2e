using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Internal;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests;

/// <summary>
/// The queue behind the cap as a gauge sees it: every item that enters the queue leaves it exactly once, whichever
/// way (started, cancelled, expired, answered at the stop), so a queue-depth gauge built on the admission hooks goes
/// back to zero; items that never queued (started at once, refused, duplicates) never touch it.
/// </summary>
public sealed class AdmissionQueueDepthTests : TestKit
{
    private readonly TestProbe _children;
    private readonly TestProbe _depth;

    public AdmissionQueueDepthTests(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        _children = CreateTestProbe();
        _depth = CreateTestProbe();
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private IActorRef StartHost(int maxRunning, int maxQueued) =>
        Sys.ActorOf(Props.Create(() => new Host(_children.Ref, _depth.Ref, maxRunning, maxQueued)));

    private void Sync(IActorRef host)
    {
        host.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
    }

    [Fact]
    public void Items_started_at_once_refused_or_duplicated_never_enter_the_queue()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 0);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));

        ExpectMsg("Duplicate:1");
        ExpectMsg("QueueFull:2");
        _depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void An_item_that_waited_leaves_the_queue_when_it_starts()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        _depth.ExpectMsg("queued:2");
        _children.ExpectMsg<Started>();

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        _depth.ExpectMsg("dequeued:2");
        Assert.Equal(2, _children.ExpectMsg<Started>().Id);
        _depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_cancelled_item_leaves_the_queue_and_its_deadline_timer_stays_silent()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        _depth.ExpectMsg("queued:2");
        host.Tell(new Cancel(2));
        ExpectMsg("CancelledInQueue:2");
        _depth.ExpectMsg("dequeued:2");

        Scheduler.Advance(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        _depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void An_expired_item_leaves_the_queue_once()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        _depth.ExpectMsg("queued:2");
        Sync(host);

        Scheduler.Advance(TimeSpan.FromSeconds(5));
        ExpectMsg("DeadlineInQueue:2");
        _depth.ExpectMsg("dequeued:2");
        host.Tell(new Cancel(2)); // too late: already answered
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        _depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Stopping_empties_the_queue_through_the_gauge_and_its_timers_stay_silent()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        _depth.ExpectMsg("queued:2");
        Sync(host);

        Sys.Stop(host);
        _depth.ExpectMsg("dequeued:2");
        var answers = new[] { ExpectMsg<string>(), ExpectMsg<string>() };
        Assert.Contains("StoppedInQueue:2", answers);
        Assert.Contains("StoppedRunning:1", answers);
    }

    [Fact]
    public void A_report_for_an_unknown_item_is_refused_and_answers_nobody()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        _children.ExpectMsg<Started>();

        host.Tell(new Finish(7, "done:7"));
        ExpectMsg("unknown:7");
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        host.Tell(new Finish(1, "again:1"));
        ExpectMsg("unknown:1");
    }

    [Fact]
    public void Several_slots_free_at_once_start_as_many_queued_items_in_order()
    {
        var host = StartHost(maxRunning: 2, maxQueued: 5);
        for (var id = 1; id <= 5; id++) host.Tell(new Submit(id, null));
        Assert.Equal(1, _children.ExpectMsg<Started>().Id);
        Assert.Equal(2, _children.ExpectMsg<Started>().Id);
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        Assert.Equal(3, _children.ExpectMsg<Started>().Id);
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
        Assert.Equal(4, _children.ExpectMsg<Started>().Id);
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    private sealed record Submit(long Id, TimeSpan? Deadline);

    private sealed record Finish(long Id, string Result);

    private sealed record Cancel(long Id);

    private sealed record Started(long Id, IActorRef Child);

    private sealed class Host : ReceiveActor, IAdmissionHost<Submit, string>
    {
        private readonly IActorRef _children;
        private readonly IActorRef _depth;
        private readonly Admission<Submit, string> _admission;

        public Host(IActorRef children, IActorRef depth, int maxRunning, int maxQueued)
        {
            _children = children;
            _depth = depth;
            _admission = new Admission<Submit, string>(this, Context, maxRunning, maxQueued);
            Receive<Submit>(m => _admission.Submit(m.Id, m, Sender));
            Receive<Finish>(m =>
            {
                if (!_admission.Finished(m.Id, m.Result)) Sender.Tell($"unknown:{m.Id}");
            });
            Receive<Cancel>(m => _admission.Cancel(m.Id, m));
            Receive<QueueDeadlineReached>(_admission.DeadlineReached);
            Receive<Terminated>(m => _admission.ChildTerminated(m.ActorRef));
        }

        protected override void PostStop() => _admission.Stop();

        public IActorRef StartChild(long id, Submit item, DateTimeOffset submittedAt)
        {
            var child = Context.ActorOf(Props.Create(() => new Child(_children)));
            _children.Tell(new Started(id, child));
            return child;
        }

        public TimeSpan? QueueDeadline(Submit item) => item.Deadline;

        public string Answer(long id, Submit item, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt) => $"{end}:{id}";

        public void Queued(Submit item) => _depth.Tell($"queued:{item.Id}");

        public void Dequeued(Submit item) => _depth.Tell($"dequeued:{item.Id}");

        public void Reply(IActorRef replyTo, string result) => replyTo.Tell(result);
    }

    private sealed class Child : ReceiveActor
    {
        public Child(IActorRef probe) => ReceiveAny(m => probe.Forward(m));
    }
}
