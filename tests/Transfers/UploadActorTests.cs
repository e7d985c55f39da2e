using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Akka.Actor;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>The upload actors against a scripted server on a TestScheduler: the tus exchange header by header, and the typed errors.</summary>
public sealed class UploadActorTests(ITestOutputHelper output) : ScriptedTransferTestKit(output, typeof(TransferRetryScheduled))
{
    private static readonly Uri Endpoint = new("https://uploads.example.test/files/");
    private static readonly Uri UploadUrl = new("https://uploads.example.test/files/abc123");

    private readonly ConcurrentQueue<(string? ContentType, long? Length)> _contents = new();

    private void Then(HttpStatusCode status, params (string Name, string Value)[] headers) =>
        Handler.Then((request, _) =>
        {
            _contents.Enqueue((request.Content?.Headers.ContentType?.MediaType, request.Content?.Headers.ContentLength));
            var response = new HttpResponseMessage(status) { Content = new ByteArrayContent([]) };
            foreach (var (name, value) in headers)
                if (name == "Location") response.Headers.Location = new Uri(value, UriKind.RelativeOrAbsolute);
                else response.Headers.TryAddWithoutValidation(name, value);
            return Task.FromResult(response);
        });

    /// <summary>Answers the next request (the OPTIONS a tus upload starts with) with these <c>Tus-Extension</c>s.</summary>
    private void ThenOptions(string extensions) =>
        Then(HttpStatusCode.NoContent, ("Tus-Resumable", "1.0.0"), ("Tus-Version", "1.0.0"), ("Tus-Extension", extensions));

    private SeenRequest Expect(HttpMethod method)
    {
        var seen = Seen.ExpectMsg<SeenRequest>(TimeSpan.FromSeconds(5));
        Assert.Equal(method, seen.Method);
        return seen;
    }

    [Fact]
    public void Tus_creates_patches_in_chunks_asks_HEAD_after_a_409_and_reports_the_sha256()
    {
        var (source, sha) = Folder.CreateFile("movie.mp4", 3000, seed: 9);
        ThenOptions("creation,expiration"); // no creation-with-upload: the POST carries no body
        Then(HttpStatusCode.Created, ("Location", "/files/abc123"), ("Tus-Resumable", "1.0.0"));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1024"));
        Then(HttpStatusCode.Conflict);
        Then(HttpStatusCode.OK, ("Upload-Offset", "2048"), ("Upload-Length", "3000")); // the server had stored the chunk after all
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "3000"));
        var transfers = StartRuntime(o => o.MaxChunkSize = Chunk); // fixed 1 KiB chunks

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source) with { Fields = [new("owner", "ana")], ComputeSha256 = true }));

        Assert.Equal("1.0.0", Expect(HttpMethod.Options).Headers["Tus-Resumable"]);
        var create = Expect(HttpMethod.Post);
        Assert.Equal("1.0.0", create.Headers["Tus-Resumable"]);
        Assert.Equal("3000", create.Headers["Upload-Length"]);
        Assert.Contains("filename " + Convert.ToBase64String(Encoding.UTF8.GetBytes("movie.mp4")), create.Headers["Upload-Metadata"]);
        Assert.Contains("owner " + Convert.ToBase64String("ana"u8.ToArray()), create.Headers["Upload-Metadata"]);

        var first = Expect(HttpMethod.Patch);
        Assert.True(File.Exists(source + ".tus"), "the upload URL is kept beside the source (saved before the first PATCH)");
        Assert.Equal(UploadUrl, first.Uri);
        Assert.Equal("0", first.Headers["Upload-Offset"]);
        Assert.Equal("1024", Expect(HttpMethod.Patch).Headers["Upload-Offset"]);
        var retry = Events.ExpectMsg<TransferRetryScheduled>();
        Assert.Contains("409", retry.Reason);
        Scheduler.Advance(retry.Delay);
        Expect(HttpMethod.Head);
        Assert.Equal("2048", Expect(HttpMethod.Patch).Headers["Upload-Offset"]);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(3000, completed.Bytes);
        Assert.Equal(UploadUrl, completed.Location);
        Assert.False(File.Exists(source + ".tus"));
        Assert.Equal([1024L, 1024L, 952L], _contents.Where(c => c.ContentType == "application/offset+octet-stream").Select(c => c.Length).ToArray());
        Assert.Equal(0, _contents.ElementAt(1).Length ?? 0); // the POST
    }

    [Fact]
    public void Tus_without_ComputeSha256_hashes_nothing_and_reports_no_sha256()
    {
        var (source, _) = Folder.CreateFile("plain.bin", 1000);
        ThenOptions("creation");
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1000"));
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source)));

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Null(completed.Sha256);
        Assert.Equal(1000, completed.Bytes);
    }

    [Fact]
    public void Tus_sends_the_first_chunk_with_the_creation_when_the_server_advertises_creation_with_upload()
    {
        var (source, sha) = Folder.CreateFile("clip.bin", 2500, seed: 4);
        ThenOptions("creation,creation-with-upload,termination");
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()), ("Upload-Offset", "1024"));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "2500"));
        var transfers = StartRuntime(o => o.MaxChunkSize = 4 * Chunk);

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source) with { ComputeSha256 = true }));

        Expect(HttpMethod.Options);
        var create = Expect(HttpMethod.Post);
        Assert.Equal("2500", create.Headers["Upload-Length"]);
        Assert.Equal("1024", Expect(HttpMethod.Patch).Headers["Upload-Offset"]); // one PATCH for the rest (the chunk doubled)
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(
            [("application/offset+octet-stream", 1024L), ("application/offset+octet-stream", 1476L)],
            _contents.Skip(1).Select(c => (c.ContentType, c.Length ?? 0)).ToArray());
    }

    [Fact]
    public void Tus_falls_back_to_plain_creation_when_OPTIONS_fails_or_the_server_refuses_the_creation_body()
    {
        var (source, _) = Folder.CreateFile("b.bin", 1500);
        Then(HttpStatusCode.MethodNotAllowed); // OPTIONS not routed (a proxy): plain creation
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1024"));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1500"));
        var transfers = StartRuntime(o => o.MaxChunkSize = Chunk);

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source)));
        Expect(HttpMethod.Options);
        Expect(HttpMethod.Post);
        Expect(HttpMethod.Patch);
        Expect(HttpMethod.Patch);
        ExpectMsg<TransferCompleted>();
        Assert.Equal(0, _contents.ElementAt(1).Length ?? 0);

        var (other, _) = Folder.CreateFile("c.bin", 500);
        ThenOptions("creation,creation-with-upload");
        Then(HttpStatusCode.BadRequest); // advertised, yet the body is refused: create without it, once
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "500"));
        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, other)));
        Expect(HttpMethod.Options);
        Expect(HttpMethod.Post);
        Expect(HttpMethod.Post);
        Expect(HttpMethod.Patch);
        ExpectMsg<TransferCompleted>();
        Assert.Equal([500L, 0L, 500L], _contents.Skip(5).Select(c => c.Length ?? 0).ToArray());
    }

    [Fact]
    public void Tus_chunks_grow_while_fast_up_to_MaxChunkSize_and_halve_after_a_failure_down_to_ChunkSize()
    {
        var (source, _) = Folder.CreateFile("big.bin", 20 * Chunk);
        ThenOptions("creation");
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (1 * Chunk).ToString()));  // 1 KiB
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (3 * Chunk).ToString()));  // 2 KiB
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (7 * Chunk).ToString()));  // 4 KiB: the largest
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (11 * Chunk).ToString())); // 4 KiB again
        Then(HttpStatusCode.ServiceUnavailable);                                      // failed: halve to 2 KiB
        Then(HttpStatusCode.OK, ("Upload-Offset", (11 * Chunk).ToString()), ("Upload-Length", (20 * Chunk).ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (13 * Chunk).ToString())); // 2 KiB
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (17 * Chunk).ToString())); // 4 KiB
        Then(HttpStatusCode.NoContent, ("Upload-Offset", (20 * Chunk).ToString())); // the last 3 KiB
        var transfers = StartRuntime(o => o.MaxChunkSize = 4 * Chunk);

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source)));
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>(TimeSpan.FromSeconds(5)).Delay);

        ExpectMsg<TransferCompleted>();
        var patches = _contents.Skip(2).Where(c => c.ContentType == "application/offset+octet-stream").Select(c => c.Length!.Value / Chunk).ToArray();
        Assert.Equal([1L, 2L, 4L, 4L, 4L, 2L, 4L, 3L], patches);
    }

    [Fact]
    public void The_tus_chunk_sizer_slows_down_on_slow_chunks_and_stays_within_its_bounds()
    {
        var sizer = new TusChunkSizer(1000, 8000);
        sizer.Completed(1000, TimeSpan.FromMilliseconds(10));
        sizer.Completed(2000, TimeSpan.FromMilliseconds(10));
        sizer.Completed(4000, TimeSpan.FromMilliseconds(10));
        Assert.Equal(8000, sizer.Size);
        sizer.Completed(8000, TimeSpan.FromMilliseconds(10));
        Assert.Equal(8000, sizer.Size); // never above the largest
        sizer.Completed(8000, TimeSpan.FromSeconds(2));
        Assert.Equal(8000, sizer.Size); // between 1 and 4 targets: kept
        sizer.Completed(8000, TimeSpan.FromSeconds(5));
        Assert.Equal(4000, sizer.Size); // slow: halved
        sizer.Completed(100, TimeSpan.Zero);
        Assert.Equal(4000, sizer.Size); // a short last chunk says nothing
        for (var i = 0; i < 5; i++) sizer.Failed();
        Assert.Equal(1000, sizer.Size); // never below the smallest
        Assert.Throws<ArgumentOutOfRangeException>(() => new TusChunkSizer(2000, 1000));
    }

    [Fact]
    public void Tus_refuses_a_server_that_acknowledges_more_than_was_sent()
    {
        var (source, _) = Folder.CreateFile("a.bin", 2000);
        ThenOptions("creation");
        Then(HttpStatusCode.Created, ("Location", UploadUrl.ToString()));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1500"));
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source)));

        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Contains("acknowledged offset 1500 after a PATCH of 1024 bytes at 0", error.Message);
        Assert.True(File.Exists(source + ".tus"), "the upload stays resumable");
    }

    [Fact]
    public void A_413_at_creation_is_a_typed_rejection()
    {
        var (source, _) = Folder.CreateFile("huge.bin", 100);
        ThenOptions("creation");
        Then(HttpStatusCode.RequestEntityTooLarge);
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source)));

        var error = Assert.IsType<TransferRejectedException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.PayloadTooLarge, error.Failure);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, error.StatusCode);
        Assert.True(File.Exists(source));
    }

    [Fact]
    public void A_415_to_a_multipart_upload_is_a_typed_rejection()
    {
        var (source, _) = Folder.CreateFile("photo.jpg", 100);
        Then(HttpStatusCode.UnsupportedMediaType);
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));

        var error = Assert.IsType<TransferRejectedException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.UnsupportedMediaType, error.Failure);
        Assert.Equal("multipart/form-data", _contents.Single().ContentType);
    }

    [Fact]
    public void A_multipart_upload_failing_with_503_starts_again_from_the_first_byte()
    {
        var (source, sha) = Folder.CreateFile("doc.txt", 5000);
        Then(HttpStatusCode.ServiceUnavailable);
        Then(HttpStatusCode.OK);
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source) with { Fields = [new("title", "Doc")], ComputeSha256 = true }));

        var first = Expect(HttpMethod.Post);
        Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);
        var second = Expect(HttpMethod.Post);
        Assert.Equal(first.Body!.Length, second.Body!.Length);
        Assert.Contains("name=file; filename=doc.txt", second.Body);
        Assert.Contains("name=title", second.Body);
        Assert.Equal(sha, ExpectMsg<TransferCompleted>().Sha256);
    }

    [Theory]
    [InlineData(false, TransferFailure.SourceMissing)]
    [InlineData(true, TransferFailure.SourceIsDirectory)]
    public void A_missing_or_directory_source_fails_with_a_typed_error_and_no_request(bool directory, TransferFailure expected)
    {
        var path = directory ? Folder.Folder("dir") : Folder.File("missing.bin");
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, path)));
        var error = Assert.IsType<TransferSourceException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(expected, error.Failure);
        Assert.Equal(path, error.Path);
        Assert.Contains(path, error.Message);

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, path)));
        Assert.Equal(expected, ExpectMsg<TransferFailed>().Error.Failure);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }
}
