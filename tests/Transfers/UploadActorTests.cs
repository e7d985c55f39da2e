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
        Then(HttpStatusCode.Created, ("Location", "/files/abc123"), ("Tus-Resumable", "1.0.0"));
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "1024"));
        Then(HttpStatusCode.Conflict);
        Then(HttpStatusCode.OK, ("Upload-Offset", "2048"), ("Upload-Length", "3000")); // the server had stored the chunk after all
        Then(HttpStatusCode.NoContent, ("Upload-Offset", "3000"));
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, source) with { Fields = [new("owner", "ana")] }));

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
    }

    [Fact]
    public void Tus_refuses_a_server_that_acknowledges_more_than_was_sent()
    {
        var (source, _) = Folder.CreateFile("a.bin", 2000);
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

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source) with { Fields = [new("title", "Doc")] }));

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
