namespace Courier.Tests.Requests;

/// <summary>
/// The admission core both coordinators share, on its own: a tiny host actor whose children report to a probe. Every
/// item submitted gets exactly one answer; time is the TestScheduler's.
/// </summary>
public sealed class AdmissionTests(ITestOutputHelper output) : AdmissionTestKit(output)
{
    [Fact]
    public void Runs_up_to_the_cap_queues_behind_it_and_refuses_past_the_queue()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 1, countsInAnswers: true);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        host.Tell(new Submit(3, null));

        ExpectStarted(1);
        ExpectMsg("QueueFull:3 (1 running, 1 queued)");
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2); // the queued item takes the slot
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
    }

    [Fact]
    public void A_second_item_with_an_id_in_flight_is_refused_whether_running_or_queued()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
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
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
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
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void The_deadline_timer_of_an_item_that_left_the_queue_does_nothing()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
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
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
        host.Tell(new Submit(1, null));
        ExpectStarted(1);
        host.Tell(new Cancel(1));
        Assert.Equal(new Cancel(1), Children.ExpectMsg<Cancel>());
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        host.Tell(new Finish(1, "cancelled:1"));
        ExpectMsg("cancelled:1");
    }

    [Fact]
    public void An_actor_that_stops_without_reporting_is_answered_and_frees_its_slot()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        var child = ExpectStarted(1);

        Sys.Stop(child);
        ExpectMsg("Crashed:1 (0 running, 1 queued)");
        ExpectStarted(2);
        // A late report of the crashed item is ignored: one answer per item.
        host.Tell(new Finish(1, "late:1"));
        ExpectMsg("unknown:1"); // refused: the caller of 1 is not answered "late:1"
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
    }

    [Fact]
    public void Stopping_answers_every_item_running_or_queued()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5, countsInAnswers: true);
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
        var host = StartHost(maxRunning: 1, maxQueued: 2, countsInAnswers: true);
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
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        // Waiting without a slot, queued or parked, is bounded by maxQueued (1 parked + 3 queued = 2; 4 is refused).
        host.Tell(new Submit(3, null));
        host.Tell(new Submit(4, null));
        ExpectMsg("QueueFull:4 (1 running, 2 queued)"); // the parked item counts as waiting, not running

        // 2 ends: the freed slot goes to the parked item first, and 3 stays queued until 1 ends.
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
        Children.ExpectMsg("unparked:1");
        Sync(host);
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(3);
    }

    [Fact]
    public void An_item_is_not_parked_when_there_is_no_room_to_wait_without_a_slot()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 1, countsInAnswers: true);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        ExpectStarted(1);
        host.Tell(new Park(1));
        ExpectMsg("kept:1"); // 2 waits in the queue: 1 keeps its slot
        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        ExpectStarted(2);
    }
}
