using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Internal;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests;

/// <summary>
/// The admission core both coordinators share, on its own: a tiny host actor whose children report to a probe. Every
/// item submitted gets exactly one answer; time is the TestScheduler's.
/// </summary>
public sealed class AdmissionTests : TestKit
{
    private readonly TestProbe _children;

    public AdmissionTests(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        _children = CreateTestProbe();
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private IActorRef StartHost(int maxRunning, int maxQueued) =>
        Sys.ActorOf(Props.Create(() => new Host(_children.Ref, maxRunning, maxQueued)));

    private IActorRef ExpectStarted(long id)
    {
        var started = _children.ExpectMsg<Started>();
        Assert.Equal(id, started.Id);
        return started.Child;
    }

    /// <summary>Makes sure the host has processed everything sent before (timers included are scheduled).</summary>
    private void Sync(IActorRef host)
    {
        host.Tell(new Identify(null));
        ExpectMsg<ActorIdentity>();
    }

    [Fact]
    public void Runs_up_to_the_cap_queues_behind_it_and_refuses_past_the_queue()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 1);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        host.Tell(new Submit(3, null));

        ExpectStarted(1);
        ExpectMsg("QueueFull:3 (1 running, 1 queued)");
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2); // the queued item takes the slot
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
    }

    [Fact]
    public void A_second_item_with_an_id_in_flight_is_refused_whether_running_or_queued()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));

        ExpectStarted(1);
        ExpectMsg("Duplicate:1 (1 running, 1 queued)");
        ExpectMsg("Duplicate:2 (1 running, 1 queued)");
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2);
        // Once an item has ended, its id may be used again.
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
        host.Tell(new Submit(1, null));
        ExpectStarted(1);
    }

    [Fact]
    public void A_queued_item_is_answered_at_its_deadline_and_never_started()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        ExpectStarted(1);
        Sync(host);

        Scheduler.Advance(TimeSpan.FromMilliseconds(4999));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        ExpectMsg("DeadlineInQueue:2 (1 running, 0 queued)");

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void The_deadline_timer_of_an_item_that_left_the_queue_does_nothing()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        host.Tell(new Submit(3, TimeSpan.FromSeconds(5)));
        ExpectStarted(1);
        Sync(host);

        Scheduler.Advance(TimeSpan.FromSeconds(1));
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2);
        host.Tell(new Cancel(3));
        ExpectMsg("CancelledInQueue:3 (1 running, 0 queued)");

        Scheduler.Advance(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // item 2 runs on, item 3 was answered once
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
    }

    [Fact]
    public void Cancelling_a_running_item_goes_to_its_actor_which_answers()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        ExpectStarted(1);
        host.Tell(new Cancel(1));
        Assert.Equal(new Cancel(1), _children.ExpectMsg<Cancel>());
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        host.Tell(new Finish(1, "cancelled:1"));
        ExpectMsg("cancelled:1");
    }

    [Fact]
    public void An_actor_that_stops_without_reporting_is_answered_and_frees_its_slot()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        var child = ExpectStarted(1);

        Sys.Stop(child);
        ExpectMsg("Crashed:1 (0 running, 1 queued)");
        ExpectStarted(2);
        // A late report of the crashed item is ignored: one answer per item.
        host.Tell(new Finish(1, "late:1"));
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
    }

    [Fact]
    public void Stopping_answers_every_item_running_or_queued()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        ExpectStarted(1);
        Sync(host);

        Sys.Stop(host);
        var answers = new[] { ExpectMsg<string>(), ExpectMsg<string>() };
        Assert.Contains("StoppedRunning:1 (0 running, 0 queued)", answers);
        Assert.Contains("StoppedInQueue:2 (0 running, 0 queued)", answers);
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_parked_item_frees_its_slot_and_takes_one_again_before_queued_items_start()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 2);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        ExpectStarted(1);
        Sync(host);

        // 1 waits for something else: it no longer counts against the cap, and 2 starts.
        host.Tell(new Park(1));
        ExpectMsg("parked:1");
        ExpectStarted(2);

        // 1 wants its slot back while 2 runs: it waits for it.
        host.Tell(new Unpark(1));
        Sync(host);
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        // Waiting without a slot, queued or parked, is bounded by maxQueued (1 parked + 3 queued = 2; 4 is refused).
        host.Tell(new Submit(3, null));
        host.Tell(new Submit(4, null));
        ExpectMsg("QueueFull:4 (1 running, 2 queued)"); // the parked item counts as waiting, not running

        // 2 ends: the freed slot goes to the parked item first, and 3 stays queued until 1 ends.
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
        _children.ExpectMsg("unparked:1");
        Sync(host);
        _children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(3);
    }

    [Fact]
    public void An_item_is_not_parked_when_there_is_no_room_to_wait_without_a_slot()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 1);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        ExpectStarted(1);
        host.Tell(new Park(1));
        ExpectMsg("kept:1"); // 2 waits in the queue: 1 keeps its slot
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2);
    }

    private sealed record Park(long Id);

    private sealed record Unpark(long Id);

    private sealed record Submit(long Id, TimeSpan? Deadline);

    private sealed record Finish(long Id, string Result);

    private sealed record Cancel(long Id);

    private sealed record Started(long Id, IActorRef Child);

    private sealed class Host : ReceiveActor, IAdmissionHost<Submit, string>
    {
        private readonly IActorRef _children;
        private readonly Admission<Submit, string> _admission;
        private readonly Queue<long> _wantSlot = new();

        public Host(IActorRef children, int maxRunning, int maxQueued)
        {
            _children = children;
            _admission = new Admission<Submit, string>(this, Context, maxRunning, maxQueued);
            Receive<Submit>(m => _admission.Submit(m.Id, m, Sender));
            Receive<Finish>(m => _admission.Finished(m.Id, m.Result));
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

        public string Answer(long id, Submit item, AdmissionEnd end, int running, int queued, DateTimeOffset submittedAt) => $"{end}:{id} ({running} running, {queued} queued)";

        public void Reply(IActorRef replyTo, string result) => replyTo.Tell(result);
    }

    private sealed class Child : ReceiveActor
    {
        public Child(IActorRef probe) => ReceiveAny(m => probe.Forward(m));
    }
}
