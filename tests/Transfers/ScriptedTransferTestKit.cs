using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Requests;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// The base of the transfer actor tests: a TestScheduler for the clock, a scripted handler for the network (every request
/// reported to <see cref="Seen"/>), transfer events on <see cref="Events"/>, a temp folder, and a runtime with 1 KiB chunks.
/// </summary>
public abstract class ScriptedTransferTestKit : TestKit
{
    protected const int Chunk = 1024;

    protected ScriptedTransferTestKit(ITestOutputHelper output, params Type[] events)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        Seen = CreateTestProbe();
        Events = CreateTestProbe();
        foreach (var type in events) Sys.EventStream.Subscribe(Events.Ref, type);
        Handler = new ScriptedHandler(Seen.Ref, () => Scheduler.Now);
    }

    protected TestProbe Seen { get; }

    protected TestProbe Events { get; }

    protected ScriptedHandler Handler { get; }

    protected TempFolder Folder { get; } = new();

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>Starts a runtime (no jitter, 1 KiB chunks and reads) and returns its <see cref="TransferCoordinator"/>.</summary>
    protected IActorRef StartRuntime(Action<TransferOptions>? configure = null, Action<HttpRuntimeOptions>? configureRuntime = null)
    {
        var options = new HttpRuntimeOptions();
        options.Retry.Jitter = JitterMode.None;
        options.Transfers.ChunkSize = Chunk;
        options.Transfers.ReadBufferSize = Chunk;
        configure?.Invoke(options.Transfers);
        configureRuntime?.Invoke(options);
        var client = new HttpClient(Handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return HttpRuntime.StartActors(Sys, options, () => client, name: "t-" + Guid.NewGuid().ToString("N")).Transfers!;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing) Folder.Dispose();
    }
}
