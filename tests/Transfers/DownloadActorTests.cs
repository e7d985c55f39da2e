using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// The DownloadActor driven deterministically: a TestScheduler is the clock, a scripted handler answers with bodies the
/// test feeds chunk by chunk (<see cref="GatedStream"/>), and the test waits on events (progress, retries) and the result.
/// </summary>
public sealed class DownloadActorTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress), typeof(TransferRetryScheduled))
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin?sig=secret");

    private TransferProgress ExpectProgress(long bytes)
    {
        var progress = Events.ExpectMsg<TransferProgress>(TimeSpan.FromSeconds(5));
        Assert.Equal(bytes, progress.BytesTransferred);
        return progress;
    }

    /// <summary>The next retry event, skipping progress.</summary>
    private TransferRetryScheduled ExpectRetry()
    {
        while (true)
            if (Events.ExpectMsg<object>(TimeSpan.FromSeconds(5)) is TransferRetryScheduled retry) return retry;
    }

    [Fact]
    public void Streams_chunk_by_chunk_with_one_progress_per_step_then_a_final_one_and_renames_the_part()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 1);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("report.bin");

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Assert.Equal(HttpMethod.Get, Seen.ExpectMsg<SeenRequest>().Method);
        for (var i = 1; i <= 4; i++)
        {
            var progress = ExpectProgress(i * Chunk);
            Assert.Equal(content.Length, progress.TotalBytes);
            Assert.Equal(progress.BytesTransferred, progress.BytesAcknowledged);
        }
        var final = ExpectProgress(content.Length);
        Assert.Equal(TimeSpan.Zero, final.Eta);
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Null(completed.Sha256); // nothing to verify, not asked for: not hashed
        Assert.Equal(content.Length, completed.Bytes);
        Assert.Equal(content, File.ReadAllBytes(destination));
        Assert.False(File.Exists(destination + ".part"));
        Assert.False(File.Exists(destination + ".part.json"));
    }

    [Fact]
    public void Progress_is_heard_while_the_body_is_read_even_when_every_read_completes_at_once()
    {
        // A fast loopback server keeps the socket full: every read of the body completes synchronously. The pump must still
        // run beside the actor, not inside its receive, or the actor hears nothing (progress, a cancel, the stall watch)
        // until the whole body is on disk. Here the body's reads never yield; half-way one takes long (blocking, as a
        // synchronous read does) and only ends when the test has heard progress.
        var content = TempFolder.Bytes(8 * Chunk, seed: 9);
        using var body = new InstantStream(content, pauseAt: 4 * Chunk);
        ThenBody(HttpStatusCode.OK, body, content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("instant.bin");

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var heard = Events.FishForMessage<TransferProgress>(p => p.BytesTransferred > 0, TimeSpan.FromSeconds(5));
        Assert.True(heard.BytesTransferred <= 4 * Chunk, $"progress at {heard.BytesTransferred} bytes, past the paused read");
        body.Resume();
        Assert.IsType<TransferCompleted>(ExpectMsg<TransferCompleted>());
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    /// <summary>
    /// A body whose reads always complete synchronously; the read at <c>pauseAt</c> blocks (up to 20 s, well past the
    /// test's wait) until <see cref="Resume"/>.
    /// </summary>
    private sealed class InstantStream(byte[] content, long pauseAt) : MemoryStream(content, writable: false)
    {
        private readonly ManualResetEventSlim _resume = new();

        public void Resume() => _resume.Set();

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (Position == pauseAt) _resume.Wait(TimeSpan.FromSeconds(20));
            return base.ReadAsync(buffer, cancellationToken);
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) _resume.Set();
            base.Dispose(disposing);
        }
    }

    [Fact]
    public void Progress_is_throttled_to_the_interval_on_the_scheduler_clock()
    {
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, 4 * Chunk);
        var transfers = StartRuntime(o => o.ProgressStep = 0);
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("a.bin"))));
        Seen.ExpectMsg<SeenRequest>();

        body.Release(TempFolder.Bytes(Chunk, 1));
        ExpectProgress(Chunk);
        body.Release(TempFolder.Bytes(Chunk, 2));
        Events.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // 1 chunk later, but no virtual time has passed
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        body.Release(TempFolder.Bytes(Chunk, 3));
        ExpectProgress(3 * Chunk);
        body.Release(TempFolder.Bytes(Chunk, 4)).End();
        ExpectProgress(4 * Chunk); // the final one
        ExpectMsg<TransferCompleted>();
    }

    [Fact]
    public void The_body_is_read_on_while_the_actor_handles_a_chunk()
    {
        // The caller's progress callback runs inside the actor: while it blocks, the actor handles nothing, and the copy
        // must still go on (it tells the actor each chunk; it does not wait for an answer). Before, the copy stopped at the
        // end of every chunk until the actor started the next one.
        using var gate = new ManualResetEventSlim();
        var content = TempFolder.Bytes(4 * Chunk, seed: 40);
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("slow-listener.bin");
        var blocking = new BlockingProgress(gate);
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { Progress = blocking }));
        Seen.ExpectMsg<SeenRequest>();

        body.Release(content.AsMemory(0, Chunk));
        AwaitCondition(() => blocking.Calls == 1); // the actor is inside the callback of the first chunk
        body.Release(content.AsMemory(Chunk, 2 * Chunk));
        AwaitCondition(() => File.Exists(destination + ".part") && new FileInfo(destination + ".part").Length == 3 * Chunk);
        Assert.Equal(1, blocking.Calls);

        gate.Set();
        body.Release(content.AsMemory(3 * Chunk)).End();
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(content.Length, completed.Bytes);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_body_longer_than_announced_fails_at_the_block_that_crossed_the_end_without_waiting_for_more()
    {
        // Chunks far larger than the body: the length is checked on every block, not only when a chunk is full, so a body
        // that goes past its Content-Length and then stays open fails at once instead of being read on (or waited for).
        var content = TempFolder.Bytes(3 * Chunk, seed: 41);
        var body = new GatedStream().Release(content); // never ends
        ThenBody(HttpStatusCode.OK, body, 2 * Chunk);
        var transfers = StartRuntime(o => o.ChunkSize = 64 * Chunk);
        var destination = Folder.File("overrun.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        var error = Assert.IsType<TransferIntegrityException>(failed.Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Equal((2 * Chunk).ToString(), error.Expected);
        Assert.Equal((3 * Chunk).ToString(), error.Actual);
        Assert.Equal(3, body.Reads); // the block that crossed the end was the last one read
        Assert.False(File.Exists(destination));
        Assert.False(File.Exists(destination + ".part")); // bytes past the announced end cannot be trusted
        Assert.Null(failed.PartialPath);
    }

    /// <summary>A progress callback that blocks (inside the actor) until the gate opens.</summary>
    private sealed class BlockingProgress(ManualResetEventSlim gate) : IProgress<TransferProgress>
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public void Report(TransferProgress value)
        {
            Interlocked.Increment(ref _calls);
            gate.Wait(TimeSpan.FromSeconds(10));
        }
    }

    [Fact]
    public async Task Cancel_stops_within_one_chunk_keeps_the_part_and_never_creates_the_destination()
    {
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, 8 * Chunk);
        var transfers = StartRuntime();
        var destination = Folder.File("big.bin");
        var request = DownloadRequest.ToFile(Url, destination);
        transfers.Tell(new StartDownload(request));
        Seen.ExpectMsg<SeenRequest>();
        body.Release(TempFolder.Bytes(Chunk, 1));
        ExpectProgress(Chunk);

        transfers.Tell(new CancelTransfer(request.Id));

        var cancelled = ExpectMsg<TransferCancelled>();
        Assert.True(await Task.WhenAny(body.ReadCancelled.Task, Task.Delay(TimeSpan.FromSeconds(5))) == body.ReadCancelled.Task, "the pending read was not aborted");
        Assert.Equal(destination + ".part", cancelled.PartialPath);
        Assert.Equal(Chunk, cancelled.BytesTransferred);
        Assert.False(File.Exists(destination));
        Assert.Equal(Chunk, new FileInfo(destination + ".part").Length);
        Assert.True(File.Exists(destination + ".part.json"));
    }

    [Fact]
    public void A_dropped_body_resumes_after_the_backoff_with_Range_and_If_Range()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 5);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("connection reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk,
            contentRange: $"bytes {2 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}");
        var transfers = StartRuntime();
        var destination = Folder.File("resumed.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.False(first.Headers.ContainsKey("Range"));
        ExpectProgress(Chunk);
        ExpectProgress(2 * Chunk);
        var retry = Events.ExpectMsg<TransferRetryScheduled>();
        Assert.Equal(2 * Chunk, retry.Offset);
        Assert.Equal(TimeSpan.FromMilliseconds(100), retry.Delay); // the request path's backoff
        Scheduler.Advance(TimeSpan.FromMilliseconds(99));
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));

        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal($"bytes={2 * Chunk}-", second.Headers["Range"]);
        Assert.Equal("\"v1\"", second.Headers["If-Range"]);
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(TempFolder.Sha256(content), completed.Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_200_to_a_range_request_means_the_file_changed_so_the_part_is_truncated_and_refilled()
    {
        var old = TempFolder.Bytes(4 * Chunk, seed: 1);
        var changed = TempFolder.Bytes(3 * Chunk, seed: 2);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(old.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), old.Length);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(changed).End(), changed.Length, etag: "\"v2\"");
        var transfers = StartRuntime();
        var destination = Folder.File("changed.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Assert.Equal("\"v1\"", Seen.ExpectMsg<SeenRequest>().Headers["If-Range"]);
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(TempFolder.Sha256(changed), completed.Sha256);
        Assert.Equal(changed, File.ReadAllBytes(destination));
    }

    // ---- issue 9 item 11: parts are combined only under the same strong validator (RFC 9110 §15.3.7.3) ----------------

    [Fact]
    public void A_206_of_a_changed_file_is_never_spliced_onto_the_part_and_the_whole_file_is_asked_for()
    {
        // The server ignores If-Range: it answers the resume with a 206 of the new version (another ETag), without a digest.
        var old = TempFolder.Bytes(4 * Chunk, seed: 21);
        var changed = TempFolder.Bytes(4 * Chunk, seed: 22);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(old.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), old.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(changed.AsMemory(2 * Chunk)).End(), 2 * Chunk, etag: "\"v2\"",
            contentRange: $"bytes {2 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}");
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(changed).End(), changed.Length, etag: "\"v2\"");
        var transfers = StartRuntime();
        var destination = Folder.File("spliced.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Assert.Equal("\"v1\"", Seen.ExpectMsg<SeenRequest>().Headers["If-Range"]);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(TempFolder.Sha256(changed), completed.Sha256);
        Assert.Equal(changed, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_206_with_a_weak_ETag_is_never_combined_with_the_part()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 23);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk, etag: "W/\"v1\"",
            contentRange: $"bytes {2 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}");
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("weak206.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Assert.True(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_weak_ETag_or_a_Last_Modified_that_is_not_strong_is_never_sent_in_If_Range()
    {
        // No strong ETag, and a Last-Modified without a Date at least a second later is weak (RFC 9110 §8.8.2.2): restart.
        var content = TempFolder.Bytes(3 * Chunk, seed: 24);
        var modified = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), content.Length, etag: "W/\"v1\"",
            configure: r => r.Content.Headers.LastModified = modified);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length, etag: "W/\"v1\"",
            configure: r => r.Content.Headers.LastModified = modified);
        var transfers = StartRuntime();
        var destination = Folder.File("weak.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.False(second.Headers.ContainsKey("Range"));
        Assert.False(second.Headers.ContainsKey("If-Range"));
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_strong_Last_Modified_is_used_for_If_Range_when_there_is_no_strong_ETag()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 25);
        var modified = new DateTimeOffset(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
        void Dated(HttpResponseMessage r)
        {
            r.Content.Headers.LastModified = modified;
            r.Headers.Date = modified.AddMinutes(5);
        }
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), content.Length, etag: null, configure: Dated);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk)).End(), 2 * Chunk, etag: null,
            contentRange: $"bytes {Chunk}-{3 * Chunk - 1}/{3 * Chunk}", configure: Dated);
        var transfers = StartRuntime();
        var destination = Folder.File("dated.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal($"bytes={Chunk}-", second.Headers["Range"]);
        Assert.Equal(modified.ToString("r"), second.Headers["If-Range"]);
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_206_body_longer_than_its_Content_Range_fails_typed_and_nothing_gets_the_final_name()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 26);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), content.Length);
        // Content-Range says one chunk; the (length-less) body carries two.
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), length: null,
            contentRange: $"bytes {2 * Chunk}-{3 * Chunk - 1}/{4 * Chunk}");
        var transfers = StartRuntime();
        var destination = Folder.File("long206.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        var failed = ExpectMsg<TransferFailed>();
        var error = Assert.IsType<TransferIntegrityException>(failed.Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.False(File.Exists(destination));
        Assert.False(File.Exists(destination + ".part")); // bytes past the range cannot be trusted
    }

    [Fact]
    public void A_Content_Range_total_that_differs_from_the_known_total_fails_typed()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 27);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk, Chunk)).End(), Chunk,
            contentRange: $"bytes {2 * Chunk}-{3 * Chunk - 1}/{3 * Chunk}");
        var transfers = StartRuntime();
        var destination = Folder.File("total.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Equal((4 * Chunk).ToString(), error.Expected);
        Assert.Equal((3 * Chunk).ToString(), error.Actual);
        Assert.False(File.Exists(destination));
    }

    [Fact]
    public void A_206_for_another_offset_is_refused_and_the_whole_file_is_asked_for()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 3);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content).End(), content.Length, contentRange: $"bytes 0-{content.Length - 1}/{content.Length}");
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("offset.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Assert.True(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_whole_part_left_by_an_earlier_process_is_verified_and_renamed_after_a_416()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 10);
        var destination = Folder.File("done.bin");
        File.WriteAllBytes(destination + ".part", content);
        File.WriteAllText(destination + ".part.json", System.Text.Json.JsonSerializer.Serialize(
            new { url = Url.AbsoluteUri, validator = "\"v1\"", length = content.Length, sha256 = TempFolder.Sha256(content) }));
        Handler.ThenStatus(HttpStatusCode.RequestedRangeNotSatisfiable);
        var transfers = StartRuntime();

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var seen = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal($"bytes={2 * Chunk}-", seen.Headers["Range"]);
        Assert.Equal("\"v1\"", seen.Headers["If-Range"]);
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
        Assert.False(File.Exists(destination + ".part.json"));
    }

    [Fact]
    public void A_short_body_is_never_a_success()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 4);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), 4 * Chunk); // announces 4 KiB, sends 2
        var transfers = StartRuntime(o => o.MaxRetriesPerChunk = 0);
        var destination = Folder.File("short.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        var error = Assert.IsType<TransferIntegrityException>(failed.Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Contains("2048 of 4096", error.Message);
        Assert.DoesNotContain("secret", error.Message);
        Assert.False(File.Exists(destination));
        Assert.Equal(2 * Chunk, new FileInfo(destination + ".part").Length); // kept for a resume
        Assert.Equal(destination + ".part", failed.PartialPath);  // the caller learns it from the runtime
        Assert.Equal(destination + ".part", error.PartialPath);
    }

    [Fact]
    public void A_failure_before_any_byte_keeps_nothing_and_says_so()
    {
        Handler.ThenStatus(HttpStatusCode.NotFound);
        var transfers = StartRuntime();
        var destination = Folder.File("missing.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        Assert.Null(failed.PartialPath);
        Assert.Null(failed.Error.PartialPath);
        Assert.Empty(Directory.GetFiles(Folder.Path)); // no empty .part left behind
    }

    [Fact]
    public void A_resume_from_a_part_left_by_an_earlier_process_is_published()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 30);
        var destination = Folder.File("kept.bin");
        File.WriteAllBytes(destination + ".part", content[..Chunk]);
        File.WriteAllText(destination + ".part.json", System.Text.Json.JsonSerializer.Serialize(
            new { url = Url.AbsoluteUri, validator = "\"v1\"", length = content.Length }));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk)).End(), 2 * Chunk,
            contentRange: $"bytes {Chunk}-{3 * Chunk - 1}/{3 * Chunk}");
        Sys.EventStream.Subscribe(TestActor, typeof(TransferResumed));
        var transfers = StartRuntime();

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        var resumed = ExpectMsg<TransferResumed>();
        Assert.Equal(destination + ".part", resumed.PartialPath);
        Assert.Equal(Chunk, resumed.Offset);
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_Repr_Digest_that_does_not_match_fails_and_removes_the_part()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 6);
        var wrong = System.Security.Cryptography.SHA256.HashData("something else"u8);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length,
            configure: r => r.Headers.TryAddWithoutValidation("Repr-Digest", TransferHeaders.FormatSha256(wrong)));
        var transfers = StartRuntime();
        var destination = Folder.File("digest.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DigestMismatch, error.Failure);
        Assert.Equal(TempFolder.Sha256(content), error.Actual);
        Assert.False(File.Exists(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public void A_download_without_a_digest_hashes_nothing_and_still_resumes_to_the_right_bytes()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 40);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 3 * Chunk)).Fail(new IOException("connection reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(3 * Chunk)).End(), Chunk,
            contentRange: $"bytes {3 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}");
        var transfers = StartRuntime();
        var destination = Folder.File("plain.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Assert.Equal($"bytes={3 * Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Null(completed.Sha256); // nothing to verify and not asked for: no SHA-256
        Assert.Equal(content, File.ReadAllBytes(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public void A_Repr_Digest_first_announced_by_the_206_makes_the_resume_hash_the_bytes_already_received()
    {
        // The 200 had no digest (nothing hashed); the 206 declares one: the bytes received before must be read back.
        var content = TempFolder.Bytes(4 * Chunk, seed: 41);
        var digest = TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(content));
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, 2 * Chunk)).Fail(new IOException("connection reset")), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk,
            contentRange: $"bytes {2 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}",
            configure: r => r.Headers.TryAddWithoutValidation("Repr-Digest", digest));
        var transfers = StartRuntime();
        var destination = Folder.File("late-digest.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(ExpectRetry().Delay);
        Seen.ExpectMsg<SeenRequest>();

        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void A_resume_that_verifies_rehashes_the_part_so_bytes_that_are_not_the_servers_fail_typed(bool partIsGood)
    {
        // An earlier process kept 1 KiB; the server's Repr-Digest covers the whole file. The kept bytes are hashed from
        // disk: when they are not the server's (a corrupt .part), the digest cannot match, and nothing gets the final name.
        var content = TempFolder.Bytes(3 * Chunk, seed: 42);
        var destination = Folder.File("rehash.bin");
        var kept = partIsGood ? content[..Chunk] : TempFolder.Bytes(Chunk, seed: 43);
        File.WriteAllBytes(destination + ".part", kept);
        File.WriteAllText(destination + ".part.json", System.Text.Json.JsonSerializer.Serialize(
            new { url = Url.AbsoluteUri, validator = "\"v1\"", length = content.Length, sha256 = TempFolder.Sha256(content) }));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk)).End(), 2 * Chunk,
            contentRange: $"bytes {Chunk}-{3 * Chunk - 1}/{3 * Chunk}",
            configure: r => r.Headers.TryAddWithoutValidation("Repr-Digest", TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(content))));
        var transfers = StartRuntime();

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Assert.Equal($"bytes={Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        if (partIsGood)
        {
            Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
            Assert.Equal(content, File.ReadAllBytes(destination));
            return;
        }
        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DigestMismatch, error.Failure);
        Assert.Equal(TempFolder.Sha256(content), error.Expected);
        Assert.Equal(TempFolder.Sha256([.. kept, .. content[Chunk..]]), error.Actual);
        Assert.False(File.Exists(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public void The_callers_expected_sha256_is_checked()
    {
        var content = TempFolder.Bytes(Chunk, seed: 7);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("ok.bin")) with { ExpectedSha256 = TempFolder.Sha256(content).ToUpperInvariant() }));
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("bad.bin")) with { ExpectedSha256 = new string('0', 64) }));
        Assert.Equal(TransferFailure.DigestMismatch, ExpectMsg<TransferFailed>().Error.Failure);
        Assert.False(File.Exists(Folder.File("bad.bin")));
    }

    [Fact]
    public void A_missing_destination_folder_fails_before_any_request()
    {
        var transfers = StartRuntime();
        var missing = Path.Combine(Folder.Path, "nope", "file.bin");

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, missing)));
        var error = Assert.IsType<TransferDestinationException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DestinationFolderMissing, error.Failure);

        transfers.Tell(new StartDownload(DownloadRequest.ToFolder(Url, Path.Combine(Folder.Path, "nope"))));
        Assert.Equal(TransferFailure.DestinationFolderMissing, ExpectMsg<TransferFailed>().Error.Failure);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_compressed_or_length_less_body_has_an_unknown_total_and_restarts_instead_of_resuming()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 8);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), length: null);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), length: null);
        var transfers = StartRuntime();
        var destination = Folder.File("unknown.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        var progress = ExpectProgress(Chunk);
        Assert.False(progress.TotalKnown);
        Assert.Null(progress.Eta);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.Equal(TempFolder.Sha256(content), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    // ---- issue 9 item 13: a download into a folder never replaces an existing file ------------------------------------

    [Fact]
    public void A_file_created_under_the_chosen_name_during_the_download_is_not_replaced_at_the_final_rename()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 28);
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, content.Length,
            configure: r => r.Content.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = "report.pdf" });
        var transfers = StartRuntime();
        var folder = Folder.Folder("inbox");
        transfers.Tell(new StartDownload(DownloadRequest.ToFolder(Url, folder)));
        Seen.ExpectMsg<SeenRequest>();
        body.Release(content.AsMemory(0, Chunk));
        ExpectProgress(Chunk);

        File.WriteAllText(Path.Combine(folder, "report.pdf"), "written by someone else meanwhile");
        body.Release(content.AsMemory(Chunk)).End();

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(Path.Combine(folder, "report (1).pdf"), completed.Path);
        Assert.Equal(content, File.ReadAllBytes(completed.Path));
        Assert.Equal("written by someone else meanwhile", File.ReadAllText(Path.Combine(folder, "report.pdf")));
        Assert.Equal(2, Directory.GetFiles(folder).Length); // no .part or .part.json left behind
    }

    [Fact]
    public void With_no_free_name_left_a_download_into_a_folder_fails_typed_and_replaces_nothing()
    {
        var folder = Folder.Folder("full");
        File.WriteAllText(Path.Combine(folder, "x.bin"), "0");
        for (var i = 1; i < SafeFileName.MaxNumberedNames; i++) File.WriteAllText(Path.Combine(folder, $"x ({i}).bin"), i.ToString());
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(TempFolder.Bytes(Chunk, 29)).End(), Chunk,
            configure: r => r.Content.Headers.ContentDisposition = new ContentDispositionHeaderValue("attachment") { FileName = "x.bin" });
        var transfers = StartRuntime();

        transfers.Tell(new StartDownload(DownloadRequest.ToFolder(Url, folder)));

        var error = Assert.IsType<TransferDestinationException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DestinationExists, error.Failure);
        Assert.Equal("0", File.ReadAllText(Path.Combine(folder, "x.bin")));
        Assert.Equal(SafeFileName.MaxNumberedNames, Directory.GetFiles(folder).Length);
    }

    [Fact]
    public void The_concurrency_cap_queues_transfers_and_a_cancelled_queued_one_never_starts()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new GatedStream()) });
        var transfers = StartRuntime(o =>
        {
            o.MaxConcurrentTransfers = 2;
            o.MaxQueuedTransfers = 1;
        });
        var requests = Enumerable.Range(0, 4).Select(i => DownloadRequest.ToFile(Url, Folder.File($"q{i}.bin"))).ToArray();
        foreach (var request in requests) transfers.Tell(new StartDownload(request));

        Seen.ExpectMsg<SeenRequest>();
        Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(TransferFailure.QueueFull, ExpectMsg<TransferFailed>().Error.Failure); // the 4th: 2 running, 1 queued
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        transfers.Tell(new CancelTransfer(requests[2].Id));
        Assert.Equal(requests[2].Id, ExpectMsg<TransferCancelled>().TransferId);
        transfers.Tell(new CancelTransfer(requests[0].Id));
        Assert.Equal(requests[0].Id, ExpectMsg<TransferCancelled>().TransferId);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the cancelled queued one was dropped
    }
}
