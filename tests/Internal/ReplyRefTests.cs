using Akka.Actor;
using Akka.TestKit.Xunit2;
using Courier.Internal;
using Xunit;

namespace Courier.Tests.Internal;

/// <summary>
/// A facade call's reply is completed by whichever answer comes first: the coordinator's, the caller's cancellation, or
/// the watch's "the coordinator stopped". Each completion runs as its own thread-pool work item, so the first answer
/// must be chosen when it is given, not when its work item happens to run: two work items queued one after the other
/// can run on two pool threads and finish in either order (a stopping runtime answered a queued call "the runtime
/// stopped" instead of the coordinator's "stopped before the call was sent", 1 suite run in 7).
/// </summary>
public sealed class ReplyRefTests : TestKit
{
    [Fact]
    public async Task The_first_answer_given_wins_even_when_a_later_one_is_completed_first()
    {
        var provider = ((ExtendedActorSystem)Sys).Provider;
        for (var i = 0; i < 20_000; i++)
        {
            var reply = new ReplyRef<string>(provider, provider.TempPath(), () => "stopped");
            reply.Tell("the coordinator's answer", ActorRefs.NoSender);
            ((CoordinatorWatch.IPending)reply).CoordinatorStopped();
            Assert.Equal("the coordinator's answer", await reply.Task);
        }
    }

    [Fact]
    public async Task A_second_answer_is_released_not_delivered()
    {
        var provider = ((ExtendedActorSystem)Sys).Provider;
        var released = new List<string>();
        var reply = new ReplyRef<string>(provider, provider.TempPath(), () => "stopped", late: late => { lock (released) released.Add(late); });

        reply.Tell("first", ActorRefs.NoSender);
        reply.Tell("second", ActorRefs.NoSender);

        Assert.Equal("first", await reply.Task);
        lock (released) Assert.Equal(["second"], released);
    }
}
