using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Courier.Errors;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// What every transfer promises through its shared base (<see cref="TransferActor"/>), shown on downloads: a stalled body
/// is cut off after <see cref="TransferOptions.StallTimeout"/> (a slow one is not), retries follow the request path's
/// backoff, count per chunk and start afresh once bytes move, the client-wide retry budget is spent and given back,
/// an error answer is typed, a cancel ends whatever is in flight, and the start, progress and end are reported.
/// Virtual time (TestScheduler) throughout.
/// </summary>
public sealed class TransferActorPromiseTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress), typeof(TransferRetryScheduled))
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin?sig=secret");

    /// <summary>The next event of type <typeparamref name="T"/>, skipping the others.</summary>
    private T Expect<T>()
    {
        while (true)
            if (Events.ExpectMsg<object>(TimeSpan.FromSeconds(5)) is T wanted) return wanted;
    }

    // ---- the stall watch ---------------------------------------------------------------------------------------------

    [Fact]
    public void A_body_that_sends_nothing_for_the_stall_timeout_is_cut_off_and_the_download_starts_again()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 51);
        var silent = new GatedStream();
        ThenBody(HttpStatusCode.OK, silent, content.Length);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime(o => o.StallTimeout = TimeSpan.FromSeconds(10));
        var destination = Folder.File("stalled.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));
        Seen.ExpectMsg<SeenRequest>();
        AwaitCondition(() => silent.Reads >= 1); // the body is being read: the stall watch runs

        Scheduler.Advance(TimeSpan.FromSeconds(10) - TimeSpan.FromMilliseconds(1));
        Events.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));

        var retry = Expect<TransferRetryScheduled>();
        Assert.Equal("no data for 10 s (Transfers:StallTimeout)", retry.Reason);
        Assert.Equal(0, retry.Offset);
        Assert.True(silent.ReadCancelled.Task.IsCompleted, "the stalled read was not aborted");
        Scheduler.Advance(retry.Delay);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_body_that_stops_after_some_bytes_is_cut_off_only_once_it_stalled_and_resumes_from_the_bytes_written()
    {
        // One 8 KiB chunk read in 1 KiB blocks: the stall watch sees bytes move inside the chunk.
        var content = TempFolder.Bytes(8 * Chunk, seed: 52);
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 6 * Chunk,
            contentRange: Range(2 * Chunk, 8 * Chunk, 8 * Chunk));
        var transfers = StartRuntime(o =>
        {
            o.StallTimeout = TimeSpan.FromSeconds(10);
            o.ChunkSize = 8 * Chunk;
        });
        var destination = Folder.File("slow.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));
        Seen.ExpectMsg<SeenRequest>();
        AwaitCondition(() => body.Reads >= 1);

        body.Release(content.AsMemory(0, Chunk)).Release(content.AsMemory(Chunk, Chunk));
        AwaitCondition(() => body.Reads >= 3); // the third read is asked for once the first block was written and counted
        Scheduler.Advance(TimeSpan.FromSeconds(10));
        Events.ExpectNoMsg(TimeSpan.FromMilliseconds(300)); // bytes moved since the watch was set: a slow link, not cut

        // Nothing more comes: within two more stall timeouts (the second block may have landed after the first look) it is cut off.
        TransferRetryScheduled? retry = null;
        for (var i = 0; i < 2 && retry is null; i++)
        {
            Scheduler.Advance(TimeSpan.FromSeconds(10));
            retry = Events.ReceiveOne(TimeSpan.FromMilliseconds(500)) as TransferRetryScheduled;
        }
        Assert.NotNull(retry);
        Assert.Equal(2 * Chunk, retry.Offset);
        Scheduler.Advance(retry.Delay);
        Assert.Equal($"bytes={2 * Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    // ---- retries -----------------------------------------------------------------------------------------------------

    [Fact]
    public void Retryable_answers_are_retried_with_the_request_paths_growing_backoff_and_the_elapsed_time_is_the_schedulers()
    {
        var content = TempFolder.Bytes(Chunk, seed: 53);
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        Handler.ThenStatus(HttpStatusCode.BadGateway);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime(o => o.MaxRetriesPerChunk = 2);
        var request = DownloadRequest.ToFile(Url, Folder.File("retried.bin"));
        transfers.Tell(new StartDownload(request));

        var first = Expect<TransferRetryScheduled>();
        Assert.Equal(new TransferRetryScheduled(request.Id, 1, 2, TimeSpan.FromMilliseconds(100), 0, first.Reason), first);
        Assert.Contains("503", first.Reason);
        Assert.Equal(1, Handler.Count); // the request path did not retry on its own: the transfer does
        Scheduler.Advance(first.Delay);
        var second = Expect<TransferRetryScheduled>();
        Assert.Equal((2, TimeSpan.FromMilliseconds(200)), (second.Retry, second.Delay));
        Scheduler.Advance(second.Delay);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(TimeSpan.FromMilliseconds(300), completed.Duration);
        Assert.Equal(3, Handler.Count);
    }

    [Fact]
    public void A_chunk_that_fails_more_than_MaxRetriesPerChunk_times_fails_the_download_and_keeps_the_part()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 54);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("connection reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Fail(new IOException("connection reset again")), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk));
        var transfers = StartRuntime(o => o.MaxRetriesPerChunk = 1);
        var destination = Folder.File("gave-up.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var retry = Expect<TransferRetryScheduled>();
        Assert.Equal((1, 1, (long)Chunk, "connection reset"), (retry.Retry, retry.MaxRetries, retry.Offset, retry.Reason));
        Scheduler.Advance(retry.Delay);

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.Contains($"failed at byte {Chunk}: connection reset again", failed.Error.Message);
        Assert.DoesNotContain("secret", failed.Error.Message);
        Assert.Equal(destination + ".part", failed.PartialPath);
        Assert.Equal(Chunk, new FileInfo(destination + ".part").Length);
        Events.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // no second retry was scheduled
    }

    [Fact]
    public void Bytes_moving_forward_start_the_retry_count_afresh()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 55);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset 1")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk, Chunk)).Fail(new IOException("reset 2")), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), Chunk,
            contentRange: Range(2 * Chunk, 3 * Chunk, 3 * Chunk));
        var transfers = StartRuntime(o => o.MaxRetriesPerChunk = 1);
        var destination = Folder.File("afresh.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var first = Expect<TransferRetryScheduled>();
        Scheduler.Advance(first.Delay);
        var second = Expect<TransferRetryScheduled>();
        Assert.Equal((1, TimeSpan.FromMilliseconds(100), 2L * Chunk), (second.Retry, second.Delay, second.Offset)); // not retry 2 of 1
        Scheduler.Advance(second.Delay);

        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void With_the_client_wide_retry_budget_spent_a_failure_is_not_retried_and_says_why()
    {
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var transfers = StartRuntime(configureRuntime: o =>
        {
            o.RetryBudget.Capacity = 4;
            o.RetryBudget.RetryCost = 5;
        });
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("budget.bin"))));

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.Contains("503", failed.Error.Message);
        Assert.EndsWith(" Not retried: the client-wide retry budget is exhausted.", failed.Error.Message);
        Assert.IsType<HttpStatusException>(failed.Error.InnerException);
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_retry_that_made_bytes_move_gives_its_budget_back()
    {
        // The bucket pays for exactly one retry; it can pay for the second only if the first one's success refunded it.
        var content = TempFolder.Bytes(3 * Chunk, seed: 56);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset 1")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk, Chunk)).Fail(new IOException("reset 2")), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), Chunk,
            contentRange: Range(2 * Chunk, 3 * Chunk, 3 * Chunk));
        var transfers = StartRuntime(configureRuntime: o =>
        {
            o.RetryBudget.Capacity = 5;
            o.RetryBudget.RetryCost = 5;
            o.RetryBudget.SuccessRefund = 0;
        });
        var destination = Folder.File("refund.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);

        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void With_the_retry_budget_turned_off_a_failure_is_still_retried()
    {
        var content = TempFolder.Bytes(Chunk, seed: 59);
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime(configureRuntime: o => o.RetryBudget.Enabled = false);
        var destination = Folder.File("no-budget.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);

        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void The_end_of_a_transfer_is_published_on_the_event_stream()
    {
        var content = TempFolder.Bytes(Chunk, seed: 60);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var ends = CreateTestProbe();
        Sys.EventStream.Subscribe(ends.Ref, typeof(TransferResult));
        var transfers = StartRuntime();
        var request = DownloadRequest.ToFile(Url, Folder.File("published.bin"));
        transfers.Tell(new StartDownload(request));

        var published = ends.ExpectMsg<TransferCompleted>();
        Assert.Equal((request.Id, (long)Chunk), (published.TransferId, published.Bytes));
        Assert.Equal(published, ExpectMsg<TransferCompleted>());
    }

    // ---- error answers -------------------------------------------------------------------------------------------------

    [Fact]
    public void An_answer_that_is_not_retryable_fails_at_once_naming_the_download_and_the_status()
    {
        Handler.ThenStatus(HttpStatusCode.Forbidden);
        var transfers = StartRuntime();
        var destination = Folder.File("forbidden.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        Assert.IsNotType<TransferRejectedException>(failed.Error);
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.StartsWith($"Downloading https://files.example.test/data/report.bin?sig=", failed.Error.Message);
        Assert.Contains($"to '{destination}': ", failed.Error.Message);
        Assert.Contains("403", failed.Error.Message);
        Assert.DoesNotContain("secret", failed.Error.Message);
        Assert.Equal(HttpStatusCode.Forbidden, Assert.IsType<HttpStatusException>(failed.Error.InnerException).StatusCode);
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_416_to_a_download_from_byte_0_is_a_typed_rejection_that_says_the_range_cannot_be_served()
    {
        Handler.ThenStatus(HttpStatusCode.RequestedRangeNotSatisfiable);
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("range.bin"))));

        var error = Assert.IsType<TransferRejectedException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.RangeNotSatisfiable, error.Failure);
        Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, error.StatusCode);
        Assert.EndsWith(" The server cannot serve the requested range.", error.Message);
    }

    // ---- cancel, start, progress ---------------------------------------------------------------------------------------

    [Fact]
    public void A_cancel_while_the_request_is_in_flight_aborts_it_and_ends_once_it_has_come_back()
    {
        var aborted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then(async (_, ct) =>
        {
            var never = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
            await using var registration = ct.Register(() =>
            {
                aborted.TrySetResult();
                never.TrySetCanceled(ct);
            });
            return await never.Task;
        });
        var transfers = StartRuntime();
        var destination = Folder.File("hung.bin");
        var request = DownloadRequest.ToFile(Url, destination);
        transfers.Tell(new StartDownload(request));
        Seen.ExpectMsg<SeenRequest>();

        transfers.Tell(new CancelTransfer(request.Id));

        var cancelled = ExpectMsg<TransferCancelled>();
        Assert.True(aborted.Task.IsCompleted, "the request in flight was not aborted");
        Assert.Equal((request.Id, 0L, (string?)null), (cancelled.TransferId, cancelled.BytesTransferred, cancelled.PartialPath));
        Assert.Empty(Directory.GetFiles(Folder.Path)); // nothing was received: no .part kept
    }

    [Fact]
    public void A_cancel_while_a_retry_waits_ends_the_download_and_no_request_follows()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 57);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("waiting.bin");
        var request = DownloadRequest.ToFile(Url, destination);
        transfers.Tell(new StartDownload(request));
        Seen.ExpectMsg<SeenRequest>();
        var retry = Expect<TransferRetryScheduled>();

        transfers.Tell(new CancelTransfer(request.Id));

        var cancelled = ExpectMsg<TransferCancelled>();
        Assert.Equal((Chunk, destination + ".part"), (cancelled.BytesTransferred, cancelled.PartialPath));
        Scheduler.Advance(retry.Delay);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        Assert.Equal(Chunk, new FileInfo(destination + ".part").Length);
    }

    [Fact]
    public void The_start_is_published_without_the_query_and_progress_reaches_the_requests_own_IProgress()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 58);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var reported = new List<TransferProgress>();
        var progress = new SynchronousProgress(p =>
        {
            lock (reported) reported.Add(p);
        });
        Sys.EventStream.Subscribe(TestActor, typeof(TransferStarted));
        var transfers = StartRuntime();
        var request = DownloadRequest.ToFile(Url, Folder.File("watched.bin")) with { Progress = progress };
        transfers.Tell(new StartDownload(request));

        var started = ExpectMsg<TransferStarted>();
        Assert.Equal((request.Id, TransferDirection.Download), (started.TransferId, started.Direction));
        Assert.Equal(request.ToString(), started.Description);
        Assert.DoesNotContain("secret", started.Description);
        var published = new List<TransferProgress> { Expect<TransferProgress>(), Expect<TransferProgress>(), Expect<TransferProgress>() };
        ExpectMsg<TransferCompleted>();
        lock (reported) Assert.Equal(published, reported);
        Assert.Equal(2 * Chunk, published[^1].BytesTransferred);
    }

    private sealed class SynchronousProgress(Action<TransferProgress> report) : IProgress<TransferProgress>
    {
        public void Report(TransferProgress value) => report(value);
    }
}
