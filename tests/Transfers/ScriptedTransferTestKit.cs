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

    /// <summary>
    /// Answers the next request with <paramref name="body"/> (a <see cref="GatedStream"/> to feed it piece by piece),
    /// its length, a strong <paramref name="etag"/> (null: none), a <c>Content-Range</c> and whatever
    /// <paramref name="configure"/> adds.
    /// </summary>
    protected void ThenBody(System.Net.HttpStatusCode status, Stream body, long? length, string? etag = "\"v1\"", string? contentRange = null,
        Action<HttpResponseMessage>? configure = null) =>
        Handler.Then((_, _) =>
        {
            var response = new HttpResponseMessage(status) { Content = new StreamContent(body) };
            response.Content.Headers.ContentLength = length;
            if (etag is not null) response.Headers.ETag = System.Net.Http.Headers.EntityTagHeaderValue.Parse(etag);
            if (contentRange is not null) response.Content.Headers.ContentRange = System.Net.Http.Headers.ContentRangeHeaderValue.Parse(contentRange);
            configure?.Invoke(response);
            return Task.FromResult(response);
        });

    /// <summary>The <c>Content-Range</c> of bytes [<paramref name="from"/>, <paramref name="to"/>) of <paramref name="total"/>.</summary>
    protected static string Range(int from, int to, int total) => $"bytes {from}-{to - 1}/{total}";
}
