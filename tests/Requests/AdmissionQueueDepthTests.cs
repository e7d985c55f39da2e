namespace Courier.Tests.Requests;

/// <summary>
/// The queue behind the cap as a gauge sees it: every item that enters the queue leaves it exactly once, whichever
/// way (started, cancelled, expired, answered at the stop), so a queue-depth gauge built on the admission hooks goes
/// back to zero; items that never queued (started at once, refused, duplicates) never touch it.
/// </summary>
public sealed class AdmissionQueueDepthTests(ITestOutputHelper output) : AdmissionTestKit(output)
{
    [Fact]
    public void Items_started_at_once_refused_or_duplicated_never_enter_the_queue()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 0);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));

        ExpectMsg("Duplicate:1");
        ExpectMsg("QueueFull:2");
        Depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void An_item_that_waited_leaves_the_queue_when_it_starts()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, null));
        Depth.ExpectMsg("queued:2");
        Children.ExpectMsg<Started>();

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        Depth.ExpectMsg("dequeued:2");
        Assert.Equal(2, Children.ExpectMsg<Started>().Id);
        Depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_cancelled_item_leaves_the_queue_and_its_deadline_timer_stays_silent()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        Depth.ExpectMsg("queued:2");
        host.Tell(new Cancel(2));
        ExpectMsg("CancelledInQueue:2");
        Depth.ExpectMsg("dequeued:2");

        Scheduler.Advance(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void An_expired_item_leaves_the_queue_once()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        Depth.ExpectMsg("queued:2");
        Sync(host);

        Scheduler.Advance(TimeSpan.FromSeconds(5));
        ExpectMsg("DeadlineInQueue:2");
        Depth.ExpectMsg("dequeued:2");
        host.Tell(new Cancel(2)); // too late: already answered
        ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Depth.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Stopping_empties_the_queue_through_the_gauge_and_its_timers_stay_silent()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        host.Tell(new Submit(2, TimeSpan.FromSeconds(5)));
        Depth.ExpectMsg("queued:2");
        Sync(host);

        Sys.Stop(host);
        Depth.ExpectMsg("dequeued:2");
        var answers = new[] { ExpectMsg<string>(), ExpectMsg<string>() };
        Assert.Contains("StoppedInQueue:2", answers);
        Assert.Contains("StoppedRunning:1", answers);
    }

    [Fact]
    public void A_report_for_an_unknown_item_is_refused_and_answers_nobody()
    {
        var host = StartHost(maxRunning: 1, maxQueued: 5);
        host.Tell(new Submit(1, null));
        Children.ExpectMsg<Started>();

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
        Assert.Equal(1, Children.ExpectMsg<Started>().Id);
        Assert.Equal(2, Children.ExpectMsg<Started>().Id);
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));

        host.Tell(new Finish(1, "done:1"));
        ExpectMsg("done:1");
        Assert.Equal(3, Children.ExpectMsg<Started>().Id);
        host.Tell(new Finish(2, "done:2"));
        ExpectMsg("done:2");
        Assert.Equal(4, Children.ExpectMsg<Started>().Id);
        Children.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }
}
