using System.Collections.Concurrent;
using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// What a tus 1.0 upload (https://tus.io/protocols/resumable-upload) promises its caller beyond the happy path: a kept
/// upload URL resumed only for the very same file and endpoint; an upload the server forgot (404, 410, 403) created
/// again, once; a chunk too large for the server (413) halved; the <c>Location</c> of the creation resolved against the
/// endpoint; retries counted since bytes last moved; progress while a chunk is being sent and a final event; a chunk
/// allowed its whole attempt timeout; and the state file named when the upload fails.
/// </summary>
public sealed class TusUploadTests(ITestOutputHelper output) : ScriptedTransferTestKit(output, typeof(TransferRetryScheduled))
{
    private static readonly Uri Endpoint = new("https://uploads.example.test/files/");
    private const string UploadUrl = "https://uploads.example.test/files/abc123";

    /// <summary>Every request the server got, as "METHOD path @Upload-Offset +body bytes", in order.</summary>
    private readonly ConcurrentQueue<string> _exchange = new();

    private IReadOnlyList<string> Exchange => [.. _exchange];

    private void Record(HttpRequestMessage request)
    {
        var offset = request.Headers.TryGetValues("Upload-Offset", out var values) ? " @" + values.Single() : "";
        var length = request.Content?.Headers.ContentLength is { } bytes ? " +" + bytes : "";
        _exchange.Enqueue($"{request.Method} {request.RequestUri!.AbsolutePath}{offset}{length}");
    }

    private static HttpResponseMessage Response(HttpStatusCode status, (string Name, string Value)[] headers)
    {
        var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
        foreach (var (name, value) in headers)
            if (name == "Location") response.Headers.Location = new Uri(value, UriKind.RelativeOrAbsolute);
            else response.Headers.TryAddWithoutValidation(name, value);
        return response;
    }

    private void Answer(HttpStatusCode status, params (string Name, string Value)[] headers) =>
        Handler.Then((request, _) =>
        {
            Record(request);
            return Task.FromResult(Response(status, headers));
        });

    private void Options(string extensions = "creation") =>
        Answer(HttpStatusCode.NoContent, ("Tus-Resumable", "1.0.0"), ("Tus-Version", "1.0.0"), ("Tus-Extension", extensions));

    private void Created(string location = UploadUrl, params (string Name, string Value)[] headers) =>
        Answer(HttpStatusCode.Created, [("Location", location), .. headers]);

    private void Patched(long offset) => Answer(HttpStatusCode.NoContent, ("Upload-Offset", offset.ToString()));

    private void Head(long offset, long length) =>
        Answer(HttpStatusCode.OK, ("Upload-Offset", offset.ToString()), ("Upload-Length", length.ToString()), ("Cache-Control", "no-store"));

    /// <summary>The next request is held (its body read in full) until the returned source is completed.</summary>
    private TaskCompletionSource<HttpResponseMessage> HoldNextAnswer()
    {
        var answer = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then((request, _) =>
        {
            Record(request);
            return answer.Task;
        });
        return answer;
    }

    private TestProbe Subscribe<T>()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(T));
        return probe;
    }

    /// <summary>The upload URL of an earlier run of this upload, kept beside the source as the actor keeps it.</summary>
    private static string KeepState(string source, string endpoint, string uploadUrl, long length, DateTime writtenUtc)
    {
        var path = source + ".tus";
        TransferState.SaveAsync(path, new UploadState(endpoint, uploadUrl, length, writtenUtc).Write, CancellationToken.None).GetAwaiter().GetResult();
        return path;
    }

    private IActorRef Upload(UploadRequest request, Action<TransferOptions>? configure = null, Action<HttpRuntimeOptions>? configureRuntime = null)
    {
        var transfers = StartRuntime(configure, configureRuntime);
        transfers.Tell(new StartUpload(request));
        return transfers;
    }

    /// <summary>Fixed 1 KiB chunks (the adaptive size would make the expected exchanges depend on timing).</summary>
    private static void FixedChunks(TransferOptions options) => options.MaxChunkSize = Chunk;

    // ---- resuming from the kept state ------------------------------------------------------------------------------

    [Fact]
    public void A_kept_upload_of_the_same_file_to_the_same_endpoint_resumes_from_the_servers_offset()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 3000, seed: 4);
        var state = KeepState(source, Endpoint.AbsoluteUri, UploadUrl, 3000, File.GetLastWriteTimeUtc(source));
        var resumed = Subscribe<TransferResumed>();
        Head(2048, 3000);
        Patched(3000);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, FixedChunks);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(["HEAD /files/abc123", "PATCH /files/abc123 @2048 +952"], Exchange); // no new upload: only the rest is sent
        Assert.Equal(new TransferResumed(completed.TransferId, TransferDirection.Upload, state, 0), resumed.ExpectMsg<TransferResumed>());
        Assert.Equal((3000L, sha, new Uri(UploadUrl)), (completed.Bytes, completed.Sha256, completed.Location));
        Assert.False(File.Exists(state), "the state is deleted once the upload is complete");
    }

    [Fact]
    public void A_kept_upload_the_server_already_holds_in_full_completes_without_sending_a_byte()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 3000);
        KeepState(source, Endpoint.AbsoluteUri, UploadUrl, 3000, File.GetLastWriteTimeUtc(source));
        Head(3000, 3000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal(3000, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal(["HEAD /files/abc123"], Exchange);
    }

    [Theory]
    [InlineData("another endpoint")]
    [InlineData("another length")]
    [InlineData("the file written since")]
    [InlineData("no absolute upload URL")]
    [InlineData("a path for an upload URL")] // "/files/x" is an absolute file: URI on Unix, never an upload URL
    [InlineData("an upload URL that is not http")]
    public void A_kept_upload_of_another_file_or_endpoint_is_not_resumed_a_new_upload_is_created(string difference)
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        var written = File.GetLastWriteTimeUtc(source);
        var state = KeepState(source,
            difference == "another endpoint" ? "https://uploads.example.test/other/" : Endpoint.AbsoluteUri,
            difference switch
            {
                "no absolute upload URL" => "abc123",
                "a path for an upload URL" => "/files/abc123",
                "an upload URL that is not http" => "ftp://uploads.example.test/files/abc123",
                _ => UploadUrl,
            },
            difference == "another length" ? 999 : 1000,
            difference == "the file written since" ? written.AddSeconds(-1) : written);
        var resumed = Subscribe<TransferResumed>();
        Options();
        Created("/files/new1");
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal("https://uploads.example.test/files/new1", ExpectMsg<TransferCompleted>().Location!.AbsoluteUri);
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/new1 @0 +1000"], Exchange);
        resumed.ExpectNoMsg(TimeSpan.Zero); // published before the first request, if at all
        Assert.False(File.Exists(state));
    }

    // ---- an upload the server forgot ----------------------------------------------------------------------------

    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.Gone)]
    [InlineData(HttpStatusCode.Forbidden)]
    public void An_upload_the_server_forgot_during_a_PATCH_is_created_again_and_sent_from_the_first_byte(HttpStatusCode forgotten)
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 2500, seed: 5);
        Options();
        Created("/files/old");
        Patched(1024);
        Answer(forgotten);
        Created("/files/new");
        Patched(1024);
        Patched(2048);
        Patched(2500);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, FixedChunks);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(
            ["OPTIONS /files/", "POST /files/", "PATCH /files/old @0 +1024", "PATCH /files/old @1024 +1024",
             "POST /files/", "PATCH /files/new @0 +1024", "PATCH /files/new @1024 +1024", "PATCH /files/new @2048 +452"],
            Exchange);
        Assert.Equal(("https://uploads.example.test/files/new", sha), (completed.Location!.AbsoluteUri, completed.Sha256));
        Events.ExpectNoMsg(TimeSpan.Zero); // created again at once: no retry, no backoff
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.Gone)]
    [InlineData(HttpStatusCode.Forbidden)]
    public void A_kept_upload_the_server_no_longer_has_is_created_again(HttpStatusCode forgotten)
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        var state = KeepState(source, Endpoint.AbsoluteUri, UploadUrl, 1000, File.GetLastWriteTimeUtc(source));
        Answer(forgotten);
        Created("/files/new");
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal("https://uploads.example.test/files/new", ExpectMsg<TransferCompleted>().Location!.AbsoluteUri);
        Assert.Equal(["HEAD /files/abc123", "POST /files/", "PATCH /files/new @0 +1000"], Exchange);
        Assert.False(File.Exists(state));
    }

    [Fact]
    public void An_upload_forgotten_again_after_it_was_created_anew_fails_instead_of_starting_over_for_ever()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2000);
        Options();
        Created("/files/old");
        Answer(HttpStatusCode.NotFound);
        Created("/files/new");
        Answer(HttpStatusCode.NotFound);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.StartsWith($"Uploading '{source}' to https://uploads.example.test/files/new: ", failed.Error.Message);
        Assert.Contains("404", failed.Error.Message);
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/old @0 +1024", "POST /files/", "PATCH /files/new @0 +1024"], Exchange);
    }

    [Fact]
    public void A_creation_made_again_that_fails_for_a_while_is_retried_as_a_creation()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created("/files/old");
        Answer(HttpStatusCode.Gone);
        Answer(HttpStatusCode.ServiceUnavailable);
        Created("/files/new");
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);

        Assert.Equal("https://uploads.example.test/files/new", ExpectMsg<TransferCompleted>().Location!.AbsoluteUri);
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/old @0 +1000", "POST /files/", "POST /files/", "PATCH /files/new @0 +1000"],
            Exchange);
    }

    [Theory]
    [InlineData(HttpStatusCode.NotFound)]
    [InlineData(HttpStatusCode.Conflict)]
    [InlineData(HttpStatusCode.BadRequest)]
    public void A_creation_refused_fails_at_once_and_keeps_no_state(HttpStatusCode refusal)
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Answer(refusal);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.Contains(((int)refusal).ToString(), failed.Error.Message);
        Assert.Null(failed.PartialPath); // nothing to resume: the server gave no upload URL
        Assert.Null(failed.Error.PartialPath);
        Assert.Equal(["OPTIONS /files/", "POST /files/"], Exchange);
        Assert.False(File.Exists(source + ".tus"));
    }

    // ---- creation-with-upload -----------------------------------------------------------------------------------

    [Fact]
    public void A_creation_with_upload_that_kept_part_of_the_first_chunk_goes_on_from_the_servers_offset()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 2000, seed: 6);
        Options("creation,creation-with-upload");
        Created(UploadUrl, ("Upload-Offset", "500"));
        Patched(1524);
        Patched(2000);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, FixedChunks);

        Assert.Equal(sha, ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(["OPTIONS /files/", "POST /files/ +1024", "PATCH /files/abc123 @500 +1024", "PATCH /files/abc123 @1524 +476"], Exchange);
    }

    [Fact]
    public void A_creation_with_upload_answered_without_an_offset_asks_HEAD_how_much_the_server_kept()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2000);
        Options("creation,creation-with-upload");
        Created(UploadUrl);
        Head(700, 2000);
        Patched(1724);
        Patched(2000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal(2000, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal(["OPTIONS /files/", "POST /files/ +1024", "HEAD /files/abc123", "PATCH /files/abc123 @700 +1024", "PATCH /files/abc123 @1724 +276"],
            Exchange);
    }

    [Fact]
    public void A_creation_with_upload_whose_body_is_refused_with_415_is_made_again_without_it()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options("creation,creation-with-upload");
        Answer(HttpStatusCode.UnsupportedMediaType);
        Created(UploadUrl);
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal(1000, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal(["OPTIONS /files/", "POST /files/ +1000", "POST /files/", "PATCH /files/abc123 @0 +1000"], Exchange);
    }

    [Fact]
    public void An_empty_file_is_created_with_no_body_and_no_PATCH_even_with_creation_with_upload()
    {
        var source = Folder.File("empty.txt");
        File.WriteAllBytes(source, []);
        Options("creation,creation-with-upload");
        Created(UploadUrl);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal(0, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal(["OPTIONS /files/", "POST /files/"], Exchange);
    }

    // ---- the Location of the creation -----------------------------------------------------------------------------

    [Theory]
    [InlineData("abc123", "https://uploads.example.test/files/abc123")]
    [InlineData("/tus/abc123", "https://uploads.example.test/tus/abc123")]
    [InlineData("https://storage.example.test/u/abc123", "https://storage.example.test/u/abc123")]
    public void The_Location_of_the_creation_is_resolved_against_the_endpoint(string location, string expected)
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created(location);
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        Assert.Equal(expected, ExpectMsg<TransferCompleted>().Location!.AbsoluteUri);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Options);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Post);
        Assert.Equal(expected, Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Patch).Uri.AbsoluteUri);
    }

    // ---- 413 on a chunk -------------------------------------------------------------------------------------------

    [Fact]
    public void A_chunk_refused_as_too_large_is_halved_and_the_upload_goes_on_from_the_servers_offset()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 3072, seed: 7);
        Options();
        Created();
        Patched(1024);                                    // a fast chunk: the next one is twice as large
        Answer(HttpStatusCode.RequestEntityTooLarge);     // a proxy's body limit below 2 KiB
        Head(1024, 3072);
        Patched(2048);
        Patched(3072);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, o => o.MaxChunkSize = 4 * Chunk);

        Assert.Equal(sha, ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(
            ["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024", "PATCH /files/abc123 @1024 +2048",
             "HEAD /files/abc123", "PATCH /files/abc123 @1024 +1024", "PATCH /files/abc123 @2048 +1024"],
            Exchange);
        Events.ExpectNoMsg(TimeSpan.Zero); // halved at once, not a retry with backoff
    }

    [Fact]
    public void A_chunk_of_the_smallest_size_refused_as_too_large_fails_the_upload_and_keeps_it_resumable()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 3000);
        Options();
        Created();
        Answer(HttpStatusCode.RequestEntityTooLarge);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        var failed = ExpectMsg<TransferFailed>();
        var error = Assert.IsType<TransferRejectedException>(failed.Error);
        Assert.Equal((TransferFailure.PayloadTooLarge, HttpStatusCode.RequestEntityTooLarge), (error.Failure, error.StatusCode));
        Assert.StartsWith($"Uploading '{source}' to {UploadUrl}: ", error.Message);
        Assert.Equal(source + ".tus", failed.PartialPath); // the state file that a new run resumes from
        Assert.Equal(source + ".tus", error.PartialPath);
        Assert.True(File.Exists(source + ".tus"));
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024"], Exchange);
    }

    // ---- retries ----------------------------------------------------------------------------------------------------

    [Fact]
    public void The_retries_of_a_chunk_count_only_the_failures_since_bytes_last_moved()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2048);
        Options();
        Created();
        Answer(HttpStatusCode.ServiceUnavailable);
        Head(0, 2048);
        Patched(1024);
        Answer(HttpStatusCode.ServiceUnavailable);
        Head(1024, 2048);
        Patched(2048);

        Upload(UploadRequest.Tus(Endpoint, source), o => (o.MaxChunkSize, o.MaxRetriesPerChunk) = (Chunk, 1));
        var first = Events.ExpectMsg<TransferRetryScheduled>();
        Scheduler.Advance(first.Delay);
        var second = Events.ExpectMsg<TransferRetryScheduled>(); // the first chunk went through: a fresh count
        Scheduler.Advance(second.Delay);

        Assert.Equal(2048, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal((1, 0L, 1, 1024L), (first.Retry, first.Offset, second.Retry, second.Offset));
        Assert.Contains("503", second.Reason);
    }

    [Fact]
    public void A_HEAD_showing_no_new_bytes_does_not_give_the_chunk_its_retries_back()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2048);
        Options();
        Created();
        Patched(1024);
        Answer(HttpStatusCode.ServiceUnavailable);
        Head(1024, 2048); // the server is where it was
        Answer(HttpStatusCode.ServiceUnavailable);

        Upload(UploadRequest.Tus(Endpoint, source), o => (o.MaxChunkSize, o.MaxRetriesPerChunk) = (Chunk, 1));
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.Contains("503", failed.Error.Message);
        Assert.Equal(6, Handler.Count);
    }

    [Fact]
    public void A_409_on_a_PATCH_is_an_offset_mismatch_retried_from_the_offset_the_server_reports()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2048);
        Options();
        Created();
        Patched(1024);
        Answer(HttpStatusCode.Conflict);
        Head(2048, 2048); // the chunk had been stored after all

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);
        var retry = Events.ExpectMsg<TransferRetryScheduled>();
        Scheduler.Advance(retry.Delay);

        Assert.Equal(2048, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal((1024L, "offset mismatch (409): asking the server for its offset"), (retry.Offset, retry.Reason));
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024", "PATCH /files/abc123 @1024 +1024", "HEAD /files/abc123"],
            Exchange);
    }

    [Fact]
    public void A_failed_HEAD_does_not_shrink_the_next_chunk_only_a_failed_chunk_does()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 8192);
        Options();
        Created();
        Patched(1024);                                // 1 KiB, fast: 2 KiB next
        Patched(3072);                                // 2 KiB, fast: 4 KiB next
        Answer(HttpStatusCode.ServiceUnavailable);    // the 4 KiB chunk fails: 2 KiB next
        Answer(HttpStatusCode.ServiceUnavailable);    // the HEAD fails: still 2 KiB
        Head(3072, 8192);
        Patched(5120);                                // fast: 4 KiB next
        Patched(8192);

        Upload(UploadRequest.Tus(Endpoint, source), o => o.MaxChunkSize = 8 * Chunk);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);

        Assert.Equal(8192, ExpectMsg<TransferCompleted>().Bytes);
        Assert.Equal(
            ["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024", "PATCH /files/abc123 @1024 +2048",
             "PATCH /files/abc123 @3072 +4096", "HEAD /files/abc123", "HEAD /files/abc123", "PATCH /files/abc123 @3072 +2048",
             "PATCH /files/abc123 @5120 +3072"],
            Exchange);
    }

    [Fact]
    public void A_PATCH_of_which_the_server_kept_nothing_is_retried_after_the_backoff_and_one_it_kept_part_of_goes_on_from_its_offset()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 2048, seed: 8);
        Options();
        Created();
        Patched(1024);
        Patched(1024); // kept nothing of the second chunk: a failed attempt
        Head(1024, 2048);
        Patched(1500); // kept part of it: goes on at once
        Patched(2048);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, FixedChunks);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);

        Assert.Equal(sha, ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(
            ["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024", "PATCH /files/abc123 @1024 +1024",
             "HEAD /files/abc123", "PATCH /files/abc123 @1024 +1024", "PATCH /files/abc123 @1500 +548"],
            Exchange);
    }

    // A server that answers every PATCH with the offset it already had (it keeps nothing, says so, and says nothing
    // else) must not be fed the same chunk again and again at once: a PATCH that moved nothing is a failed attempt,
    // retried after the backoff and counted, and the upload ends with a typed error naming what happened.
    [Fact]
    public void A_server_that_keeps_nothing_of_every_PATCH_gets_retries_with_backoff_then_a_clear_failure()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2048);
        Options();
        Created();
        Patched(1024);
        Handler.Default = (request, _) =>
        {
            Record(request);
            return Task.FromResult(request.Method == HttpMethod.Head
                ? Response(HttpStatusCode.OK, [("Upload-Offset", "1024"), ("Upload-Length", "2048"), ("Cache-Control", "no-store")])
                : Response(HttpStatusCode.NoContent, [("Upload-Offset", "1024")]));
        };

        Upload(UploadRequest.Tus(Endpoint, source), o => (o.MaxChunkSize, o.MaxRetriesPerChunk) = (Chunk, 2));
        var first = Events.ExpectMsg<TransferRetryScheduled>();
        Assert.Equal((1, 1024L), (first.Retry, first.Offset));
        Assert.True(first.Delay > TimeSpan.Zero);
        Assert.Contains("kept none", first.Reason);
        Scheduler.Advance(first.Delay);
        var second = Events.ExpectMsg<TransferRetryScheduled>();
        Assert.Equal(2, second.Retry);
        Scheduler.Advance(second.Delay);

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.ProtocolViolation, failed.Error.Failure);
        Assert.Contains("kept none of the 1024-byte PATCH at offset 1024", failed.Error.Message);
        Assert.Equal(3, Exchange.Count(e => e == "PATCH /files/abc123 @1024 +1024")); // the first, then one per retry
    }

    [Fact]
    public void A_chunk_the_server_kept_only_part_of_halves_the_next_one()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 4096, seed: 10);
        Options();
        Created();
        Patched(1024); // fast: 2 KiB next
        Patched(2048); // kept only half of the 2 KiB: 1 KiB next
        Patched(3072); // fast again: 2 KiB next, cut to the last 1 KiB
        Patched(4096);

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, o => o.MaxChunkSize = 4 * Chunk);

        Assert.Equal(sha, ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(
            ["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1024", "PATCH /files/abc123 @1024 +2048",
             "PATCH /files/abc123 @2048 +1024", "PATCH /files/abc123 @3072 +1024"],
            Exchange);
    }

    [Fact]
    public void The_creation_announces_the_files_length_name_type_and_the_callers_metadata()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created();
        Patched(1000);

        Upload(UploadRequest.Tus(Endpoint, source) with { FileName = "clip.mp4", ContentType = "video/mp4", Fields = [new("owner", "ana")] }, FixedChunks);

        ExpectMsg<TransferCompleted>();
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Options);
        var create = Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Post);
        static string B64(string text) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text));
        Assert.Equal(("1.0.0", "1000", $"filename {B64("clip.mp4")},filetype {B64("video/mp4")},owner {B64("ana")}"),
            (create.Headers["Tus-Resumable"], create.Headers["Upload-Length"], create.Headers["Upload-Metadata"]));
    }

    [Fact]
    public void A_source_that_grows_while_its_last_chunk_is_sent_fails_instead_of_being_cut()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2000);
        Options();
        Created();
        Handler.Then((request, _) =>
        {
            Record(request);
            File.AppendAllText(source, "more"); // written to while the upload runs
            return Task.FromResult(Response(HttpStatusCode.NoContent, [("Upload-Offset", "1024")]));
        });

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        var error = Assert.IsType<TransferSourceException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal((TransferFailure.SourceUnreadable, source), (error.Failure, error.Path));
        Assert.Contains("grew while it was being sent", error.Message);
        Events.ExpectNoMsg(TimeSpan.Zero); // a local file that changed is not a network failure: sending it again cannot help
        Assert.Equal(4, Handler.Count);
    }

    [Fact]
    public void A_source_cut_short_before_its_hash_is_computed_fails_with_no_hash_reported()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created();
        var answer = HoldNextAnswer();

        Upload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }, FixedChunks);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Options);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Post);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Patch);
        File.WriteAllBytes(source, new byte[10]); // the whole file was sent; then it changed
        answer.SetResult(Response(HttpStatusCode.NoContent, [("Upload-Offset", "1000")]));

        var error = Assert.IsType<TransferSourceException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal((TransferFailure.SourceUnreadable, source), (error.Failure, error.Path));
    }

    // ---- progress -----------------------------------------------------------------------------------------------

    [Fact]
    public void Progress_starts_at_zero_before_the_server_answers_and_ends_with_a_final_event_for_the_whole_file()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 3000);
        var progress = Subscribe<TransferProgress>();
        var options = HoldNextAnswer();
        Created();
        Patched(1024);
        Patched(2048);
        Patched(3000);

        // Only the events a transfer must publish: no interval or step passes during the test.
        Upload(UploadRequest.Tus(Endpoint, source), o => (o.MaxChunkSize, o.ProgressInterval, o.ProgressStep) = (Chunk, TimeSpan.FromHours(1), 0));

        var first = progress.ExpectMsg<TransferProgress>(); // the OPTIONS is not answered yet
        Assert.Equal((0L, 0L, (long?)3000), (first.BytesTransferred, first.BytesAcknowledged, first.TotalBytes));
        options.SetResult(Response(HttpStatusCode.NoContent, [("Tus-Resumable", "1.0.0"), ("Tus-Extension", "creation")]));
        var last = progress.ExpectMsg<TransferProgress>();
        Assert.Equal((3000L, 3000L, (long?)3000, (TimeSpan?)TimeSpan.Zero), (last.BytesTransferred, last.BytesAcknowledged, last.TotalBytes, last.Eta));
        ExpectMsg<TransferCompleted>();
        progress.ExpectNoMsg(TimeSpan.Zero);
    }

    [Fact]
    public void Each_chunk_the_server_acknowledges_is_reported_as_stored()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 3000);
        var progress = Subscribe<TransferProgress>();
        Options();
        Created();
        Patched(1024);
        Patched(2048);
        Patched(3000);

        Upload(UploadRequest.Tus(Endpoint, source), o => (o.MaxChunkSize, o.ProgressInterval, o.ProgressStep) = (Chunk, TimeSpan.Zero, 0));

        ExpectMsg<TransferCompleted>();
        var events = progress.ReceiveWhile(TimeSpan.FromSeconds(1), m => (TransferProgress)m, 5);
        Assert.Equal([(0L, 0L), (1024L, 1024L), (2048L, 2048L), (3000L, 3000L), (3000L, 3000L)],
            events.Select(e => (e.BytesTransferred, e.BytesAcknowledged)).ToArray());
        Assert.All(events, e => Assert.Equal(3000, e.TotalBytes));
    }

    [Fact]
    public async Task While_a_chunk_is_being_sent_its_progress_counts_the_bytes_written_so_far()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 5000);
        var progress = Subscribe<TransferProgress>();
        Options();
        Created();
        Patched(2048);
        var firstBufferWritten = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var rest = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.ThenUnread(async (request, ct) =>
        {
            // A server still receiving the second chunk: it has taken the first 1 KiB buffer of it.
            await request.Content!.CopyToAsync(new HoldingStream(firstBufferWritten, rest.Task), ct);
            return Response(HttpStatusCode.NoContent, [("Upload-Offset", "4096")]);
        });
        Patched(5000);

        Upload(UploadRequest.Tus(Endpoint, source),
            o => (o.ChunkSize, o.MaxChunkSize, o.ProgressInterval, o.ProgressStep) = (2 * Chunk, 2 * Chunk, TimeSpan.FromMilliseconds(100), 0));
        Assert.Equal(0, progress.ExpectMsg<TransferProgress>().BytesTransferred);
        await firstBufferWritten.Task.WaitAsync(TimeSpan.FromSeconds(10)); // the second chunk is being sent

        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        var polled = progress.ExpectMsg<TransferProgress>();
        Assert.Equal((3072L, 2048L), (polled.BytesTransferred, polled.BytesAcknowledged)); // sent so far, stored so far
        rest.SetResult();

        Assert.Equal(5000, ExpectMsg<TransferCompleted>().Bytes);
    }

    // ---- time -------------------------------------------------------------------------------------------------------

    [Fact]
    public void A_chunk_may_use_its_whole_attempt_timeout_even_past_the_call_deadline_of_ordinary_calls()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created();
        var answer = HoldNextAnswer();

        Upload(UploadRequest.Tus(Endpoint, source),
            o => (o.UploadAttemptTimeout, o.ProgressInterval) = (TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)),
            runtime => runtime.CallDeadline = TimeSpan.FromSeconds(30));
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Options);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Post);
        Seen.ExpectMsg<SeenRequest>(r => r.Method == HttpMethod.Patch);
        Scheduler.Advance(TimeSpan.FromMinutes(9.75)); // a slow link: the server answers just inside the attempt timeout
        answer.SetResult(Response(HttpStatusCode.NoContent, [("Upload-Offset", "1000")]));

        Assert.Equal(1000, ExpectMsg<TransferCompleted>().Bytes);
        Events.ExpectNoMsg(TimeSpan.Zero);
    }

    // ---- files ------------------------------------------------------------------------------------------------------

    [Fact]
    public void An_upload_whose_state_cannot_be_kept_still_completes()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        Options();
        Created();
        Patched(1000);

        // The state's folder does not exist (a read-only place, say): the upload runs, it just cannot be resumed elsewhere.
        var state = Path.Combine(Folder.Path, "missing", "movie.tus");
        EventFilter.Warning(contains: $"the tus state '{state}' cannot be written").ExpectOne(() =>
        {
            Upload(UploadRequest.Tus(Endpoint, source) with { StatePath = state }, FixedChunks);
            Assert.Equal(1000, ExpectMsg<TransferCompleted>().Bytes);
        });
        Assert.Equal(["OPTIONS /files/", "POST /files/", "PATCH /files/abc123 @0 +1000"], Exchange);
    }

    [Fact]
    public void The_source_is_closed_once_the_upload_has_ended()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 2000);
        Options();
        Created();
        Patched(1024);
        Answer(HttpStatusCode.BadRequest);

        Upload(UploadRequest.Tus(Endpoint, source), FixedChunks);

        ExpectMsg<TransferFailed>();
        // An exclusive open fails while any handle of this process holds the file (.NET locks files it opens on Unix too).
        using var exclusive = new FileStream(source, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        Assert.Equal(2000, exclusive.Length);
    }

    [Fact]
    public async Task A_source_that_cannot_be_opened_fails_with_a_typed_error_naming_it_and_sends_nothing()
    {
        var (source, _) = Folder.CreateFile("movie.mp4", 1000);
        // The state path is a named pipe: reading it waits for the test, after the source was inspected and before it is
        // opened for the upload. Meanwhile another process (here, the test) holds the source exclusively.
        var state = Folder.File("movie.tus");
        using (var mkfifo = System.Diagnostics.Process.Start("mkfifo", [state]))
            await mkfifo.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10));

        Upload(UploadRequest.Tus(Endpoint, source) with { StatePath = state });
        await using (var writer = await Task.Run(() => new FileStream(state, FileMode.Open, FileAccess.Write)).WaitAsync(TimeSpan.FromSeconds(10)))
        {
            await using var exclusive = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.None);
            await writer.WriteAsync("{}"u8.ToArray());
            await writer.DisposeAsync(); // the state is read: no upload to resume
            var error = Assert.IsType<TransferSourceException>(ExpectMsg<TransferFailed>().Error);
            Assert.Equal((TransferFailure.SourceUnreadable, source), (error.Failure, error.Path));
            Assert.StartsWith($"The upload source '{source}' cannot be opened: ", error.Message);
        }
        Assert.Equal(0, Handler.Count);
    }

    /// <summary>A request stream that takes the first write, signals it, and holds the next until <c>rest</c> completes.</summary>
    private sealed class HoldingStream(TaskCompletionSource firstWritten, Task rest) : Stream
    {
        private int _writes;

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (++_writes == 1) return;
            firstWritten.TrySetResult(); // the content has counted the first buffer: it only counts a write once it returned
            await rest.WaitAsync(cancellationToken);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer, offset, count).GetAwaiter().GetResult();

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
        public override void Flush() { }
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
