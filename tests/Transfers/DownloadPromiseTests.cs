using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// What a download promises beyond <see cref="DownloadActorTests"/>, each the way a user would state it: bad requests are
/// refused before any byte moves, an answer a download cannot use is a typed protocol error (RFC 9110 §14.4, §15.3.7),
/// a short range is completed with another range, a refused range starts over once, a body longer than announced is
/// never a success, a local file that cannot be written is a local error, and a cancel may remove the partial file.
/// </summary>
public sealed class DownloadPromiseTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress), typeof(TransferRetryScheduled))
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin?sig=secret");

    private T Expect<T>()
    {
        while (true)
            if (Events.ExpectMsg<object>(TimeSpan.FromSeconds(5)) is T wanted) return wanted;
    }

    /// <summary>A first answer that breaks off after <paramref name="bytes"/> of <paramref name="content"/>, and the retry it leads to.</summary>
    private void BreakAfter(byte[] content, int bytes) =>
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, bytes)).Fail(new IOException("connection reset")), content.Length);

    private void KeepPart(string destination, byte[] kept, long length)
    {
        File.WriteAllBytes(destination + ".part", kept);
        File.WriteAllText(destination + ".part.json", System.Text.Json.JsonSerializer.Serialize(
            new { url = Url.AbsoluteUri, validator = "\"v1\"", length }));
    }

    // ---- refused before any request --------------------------------------------------------------------------------

    [Fact]
    public void An_expected_sha256_that_is_not_64_hex_characters_is_refused_before_any_request()
    {
        var transfers = StartRuntime();
        var destination = Folder.File("bad-digest.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ExpectedSha256 = "abc" }));

        var error = ExpectMsg<TransferFailed>().Error;
        Assert.Equal(TransferFailure.InvalidRequest, error.Failure);
        Assert.Contains("the expected SHA-256 'abc' is not 64 hex characters", error.Message);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Empty(Directory.GetFileSystemEntries(Folder.Path));
    }

    [Fact]
    public void A_destination_that_is_a_folder_is_refused_and_points_to_ToFolder()
    {
        var transfers = StartRuntime();
        var folder = Folder.Folder("a-folder");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, folder)));

        var error = Assert.IsType<TransferDestinationException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.InvalidRequest, error.Failure);
        Assert.Equal(folder, error.Path);
        Assert.Contains("use DownloadRequest.ToFolder", error.Message);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_part_that_cannot_be_written_fails_as_a_local_error_without_a_request()
    {
        var transfers = StartRuntime();
        var destination = Folder.File("locked.bin");
        Directory.CreateDirectory(destination + ".part");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var error = ExpectMsg<TransferFailed>().Error;
        Assert.Equal(TransferFailure.LocalIo, error.Failure);
        Assert.StartsWith($"Downloading https://files.example.test/data/report.bin?sig=", error.Message);
        Assert.Contains($"'{destination}.part' cannot be opened for writing", error.Message);
        Assert.DoesNotContain("secret", error.Message);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.True(Directory.Exists(destination + ".part")); // not ours: left alone
    }

    // ---- answers a download cannot use -------------------------------------------------------------------------------

    [Fact]
    public void A_success_status_other_than_200_or_206_is_a_protocol_violation()
    {
        Handler.ThenStatus(HttpStatusCode.NoContent);
        var transfers = StartRuntime();
        var destination = Folder.File("nocontent.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var error = ExpectMsg<TransferFailed>().Error;
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.EndsWith("the server answered 204; a download expects 200 or 206.", error.Message);
        Assert.False(File.Exists(destination));
        Assert.Empty(Directory.GetFiles(Folder.Path));
    }

    [Fact]
    public void A_206_to_a_request_without_a_range_is_a_protocol_violation()
    {
        // The resume's 206 is for another offset, so whole bodies are asked for; the server answers that with a 206 too.
        var content = TempFolder.Bytes(4 * Chunk, seed: 61);
        BreakAfter(content, 2 * Chunk);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content).End(), content.Length, contentRange: Range(0, 4 * Chunk, 4 * Chunk));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content).End(), content.Length, contentRange: Range(0, 4 * Chunk, 4 * Chunk));
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("norange.bin"))));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Assert.True(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        var error = ExpectMsg<TransferFailed>().Error;
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.Contains($"the server answered 206 with Content-Range 'bytes 0-{4 * Chunk - 1}/{4 * Chunk}' although no range was asked for", error.Message);
    }

    [Fact]
    public void A_server_that_answers_a_resume_twice_with_another_version_fails_instead_of_looping()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 62);
        BreakAfter(content, 2 * Chunk);
        for (var i = 0; i < 2; i++)
            ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk, etag: "\"v2\"",
                contentRange: Range(2 * Chunk, 4 * Chunk, 4 * Chunk));
        var transfers = StartRuntime();
        var destination = Folder.File("ignores-if-range.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Assert.Equal("\"v1\"", Seen.ExpectMsg<SeenRequest>().Headers["If-Range"]);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range")); // the whole file, asked for once
        var error = ExpectMsg<TransferFailed>().Error;
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.Contains("answered a resume twice with a 206 of another version of the file (it ignores If-Range)", error.Message);
        Assert.False(File.Exists(destination));
    }

    [Fact]
    public void A_206_whose_Content_Range_and_Content_Length_disagree_fails_typed()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 63);
        BreakAfter(content, 2 * Chunk);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), Chunk,
            contentRange: Range(2 * Chunk, 4 * Chunk, 4 * Chunk));
        var transfers = StartRuntime();
        var destination = Folder.File("disagree.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Equal(((2 * Chunk).ToString(), Chunk.ToString()), (error.Expected, error.Actual));
        Assert.Contains($"Content-Length ({Chunk}) disagree", error.Message);
        Assert.False(File.Exists(destination));
    }

    [Fact]
    public void A_200_body_longer_than_its_Content_Length_is_never_a_success_and_its_part_is_removed()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 64);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), 2 * Chunk);
        var transfers = StartRuntime();
        var destination = Folder.File("long.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        var error = Assert.IsType<TransferIntegrityException>(failed.Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Equal(((2 * Chunk).ToString(), (3 * Chunk).ToString()), (error.Expected, error.Actual));
        Assert.Contains($"the server sent {3 * Chunk} bytes but announced {2 * Chunk}", error.Message);
        Assert.Null(failed.PartialPath);
        Assert.Empty(Directory.GetFiles(Folder.Path));
    }

    // ---- ranges ------------------------------------------------------------------------------------------------------

    [Fact]
    public void A_206_shorter_than_asked_for_is_completed_with_a_range_for_the_rest()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 65);
        BreakAfter(content, Chunk);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk, Chunk)).End(), Chunk,
            contentRange: Range(Chunk, 2 * Chunk, 4 * Chunk));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk,
            contentRange: Range(2 * Chunk, 4 * Chunk, 4 * Chunk));
        var transfers = StartRuntime();
        var destination = Folder.File("short-range.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { ComputeSha256 = true }));

        Seen.ExpectMsg<SeenRequest>();
        var retry = Expect<TransferRetryScheduled>();
        Scheduler.Advance(retry.Delay);
        Assert.Equal($"bytes={Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        var third = Seen.ExpectMsg<SeenRequest>(); // at once: no backoff, nothing went wrong
        Assert.Equal($"bytes={2 * Chunk}-", third.Headers["Range"]);
        Assert.Equal("\"v1\"", third.Headers["If-Range"]);

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(TempFolder.Sha256(content), completed.Sha256);
        Assert.Equal(content, File.ReadAllBytes(destination));
        Assert.Equal(3, Handler.Count);
    }

    [Fact]
    public void A_416_to_a_resume_starts_over_once_with_the_whole_file()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 66);
        var destination = Folder.File("shrunk.bin");
        KeepPart(destination, content[..Chunk], 4 * Chunk); // the file was longer when the .part was written
        Handler.ThenStatus(HttpStatusCode.RequestedRangeNotSatisfiable);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Assert.Equal($"bytes={Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_second_416_fails_typed_instead_of_starting_over_again()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 67);
        var destination = Folder.File("refused.bin");
        KeepPart(destination, content[..Chunk], 4 * Chunk);
        Handler.ThenStatus(HttpStatusCode.RequestedRangeNotSatisfiable);
        BreakAfter(content, 2 * Chunk);                   // the whole file, cut: a resume follows
        Handler.ThenStatus(HttpStatusCode.RequestedRangeNotSatisfiable);
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Assert.Equal($"bytes={2 * Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        var error = Assert.IsType<TransferRejectedException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.RangeNotSatisfiable, error.Failure);
    }

    [Fact]
    public void A_server_that_says_Accept_Ranges_none_is_never_asked_for_a_range()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 68);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), content.Length,
            configure: r => r.Headers.AcceptRanges.Add("none"));
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length, configure: r => r.Headers.AcceptRanges.Add("none"));
        var transfers = StartRuntime();
        var destination = Folder.File("noranges.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.False(second.Headers.ContainsKey("Range"));
        Assert.False(second.Headers.ContainsKey("If-Range"));
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void The_callers_headers_go_with_every_request_of_the_download_ranges_included()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 69);
        BreakAfter(content, Chunk);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk)).End(), Chunk, contentRange: Range(Chunk, 2 * Chunk, 2 * Chunk));
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("headers.bin")) with
        {
            Headers = [new("X-Tenant", "acme")],
        }));

        Assert.Equal("acme", Seen.ExpectMsg<SeenRequest>().Headers["X-Tenant"]);
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("acme", second.Headers["X-Tenant"]);
        Assert.Equal($"bytes={Chunk}-", second.Headers["Range"]);
        ExpectMsg<TransferCompleted>();
    }

    [Fact]
    public void A_206_counted_in_another_unit_than_bytes_is_not_appended_and_the_whole_file_is_asked_for()
    {
        var content = TempFolder.Bytes(4 * Chunk, seed: 75);
        BreakAfter(content, 2 * Chunk);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(2 * Chunk)).End(), 2 * Chunk,
            contentRange: $"items {2 * Chunk}-{4 * Chunk - 1}/{4 * Chunk}");
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("items.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Assert.True(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    [Fact]
    public void A_gzip_encoded_body_is_kept_as_sent_its_Content_Length_is_the_total_and_a_cut_resumes_with_a_range()
    {
        // A server that compresses although the download asked for identity: the file is its encoded bytes (as curl -o
        // without --compressed), and the length, the range and the digest all count those bytes.
        var encoded = TempFolder.Bytes(3 * Chunk, seed: 76);
        var digest = TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(encoded));
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(encoded.AsMemory(0, Chunk)).Fail(new IOException("reset")), encoded.Length,
            configure: r => Gzip(r, digest));
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(encoded.AsMemory(Chunk)).End(), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk), configure: r => Gzip(r, digest));
        var transfers = StartRuntime();
        var destination = Folder.File("gzip.bin.gz");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Assert.Equal("identity", Seen.ExpectMsg<SeenRequest>().Headers["Accept-Encoding"]);
        Assert.Equal(encoded.Length, Expect<TransferProgress>().TotalBytes);
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        var resume = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal($"bytes={Chunk}-", resume.Headers["Range"]);
        Assert.Equal("identity", resume.Headers["Accept-Encoding"]);
        Assert.Equal(TempFolder.Sha256(encoded), ExpectMsg<TransferCompleted>().Sha256);
        Assert.Equal(encoded, File.ReadAllBytes(destination));
    }

    private static void Gzip(HttpResponseMessage response, string digest)
    {
        response.Content.Headers.ContentEncoding.Add("gzip");
        response.Headers.TryAddWithoutValidation("Repr-Digest", digest);
    }

    [Fact]
    public void A_body_a_decompressing_handler_below_decoded_restarts_instead_of_resuming_and_is_not_checked_against_the_encoded_digest()
    {
        // What HttpClientHandler/SocketsHttpHandler with AutomaticDecompression does (an application's own handler): it
        // adds the codings to Accept-Encoding and hands back the decoded body without Content-Encoding and Content-Length.
        var content = TempFolder.Bytes(3 * Chunk, seed: 79);
        var encodedDigest = TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(TempFolder.Bytes(Chunk, seed: 80)));
        Handler.Then((request, _) => Task.FromResult(Decoded(request, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new IOException("reset")), encodedDigest)));
        Handler.Then((request, _) => Task.FromResult(Decoded(request, new GatedStream().Release(content).End(), encodedDigest)));
        var transfers = StartRuntime();
        var destination = Folder.File("decoded.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        Seen.ExpectMsg<SeenRequest>();
        Assert.Null(Expect<TransferProgress>().TotalBytes);
        Scheduler.Advance(Expect<TransferRetryScheduled>().Delay);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        ExpectMsg<TransferCompleted>();
        Assert.Equal(content, File.ReadAllBytes(destination));
    }

    private static HttpResponseMessage Decoded(HttpRequestMessage request, Stream body, string digest)
    {
        request.Headers.AcceptEncoding.ParseAdd("gzip");
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(body), RequestMessage = request };
        response.Headers.ETag = EntityTagHeaderValue.Parse("\"v1\"");
        response.Headers.TryAddWithoutValidation("Repr-Digest", digest);
        return response;
    }

    [Fact]
    public void A_digest_announced_before_a_cancel_is_still_checked_by_the_download_that_resumes_the_part()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 77);
        var digest = TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(content));
        var first = new GatedStream().Release(content.AsMemory(0, Chunk));
        ThenBody(HttpStatusCode.OK, first, content.Length, configure: r => r.Headers.TryAddWithoutValidation("Repr-Digest", digest));
        // The resume's 206 carries no digest, and bytes that are not the file's.
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(TempFolder.Bytes(2 * Chunk, seed: 78)).End(), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk));
        var transfers = StartRuntime();
        var destination = Folder.File("digest-kept.bin");
        var request = DownloadRequest.ToFile(Url, destination);
        transfers.Tell(new StartDownload(request));
        Expect<TransferProgress>();
        transfers.Tell(new CancelTransfer(request.Id));
        ExpectMsg<TransferCancelled>();

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DigestMismatch, error.Failure);
        Assert.Equal(TempFolder.Sha256(content), error.Expected);
        Assert.False(File.Exists(destination));
    }

    // ---- folder mode ---------------------------------------------------------------------------------------------------

    [Fact]
    public void Into_a_folder_a_part_left_by_an_earlier_process_is_resumed_with_a_range_after_the_first_answer_names_it()
    {
        var content = TempFolder.Bytes(3 * Chunk, seed: 70);
        var folder = Folder.Folder("inbox");
        KeepPart(Path.Combine(folder, "report.bin"), content[..Chunk], content.Length);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        ThenBody(HttpStatusCode.PartialContent, new GatedStream().Release(content.AsMemory(Chunk)).End(), 2 * Chunk,
            contentRange: Range(Chunk, 3 * Chunk, 3 * Chunk));
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFolder(Url, folder) with { ComputeSha256 = true }));

        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("Range"));
        Assert.Equal($"bytes={Chunk}-", Seen.ExpectMsg<SeenRequest>().Headers["Range"]);
        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(Path.Combine(folder, "report.bin"), completed.Path);
        Assert.Equal(TempFolder.Sha256(content), completed.Sha256);
        Assert.Equal(content, File.ReadAllBytes(completed.Path));
    }

    [Fact]
    public void Into_a_folder_with_Overwrite_an_existing_file_of_that_name_is_replaced()
    {
        var content = TempFolder.Bytes(Chunk, seed: 71);
        var folder = Folder.Folder("replace");
        File.WriteAllText(Path.Combine(folder, "report.bin"), "old");
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), content.Length);
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFolder(Url, folder) with { Overwrite = true }));

        var completed = ExpectMsg<TransferCompleted>();
        Assert.Equal(Path.Combine(folder, "report.bin"), completed.Path);
        Assert.Equal(content, File.ReadAllBytes(completed.Path));
        Assert.Single(Directory.GetFiles(folder));
    }

    // ---- the end -------------------------------------------------------------------------------------------------------

    [Fact]
    public void With_DeletePartialOnFailure_a_cancelled_download_keeps_no_part()
    {
        var body = new GatedStream();
        ThenBody(HttpStatusCode.OK, body, 4 * Chunk);
        var transfers = StartRuntime();
        var destination = Folder.File("discard.bin");
        var request = DownloadRequest.ToFile(Url, destination) with { DeletePartialOnFailure = true };
        transfers.Tell(new StartDownload(request));
        Seen.ExpectMsg<SeenRequest>();
        body.Release(TempFolder.Bytes(Chunk, 72));
        Expect<TransferProgress>();

        transfers.Tell(new CancelTransfer(request.Id));

        var cancelled = ExpectMsg<TransferCancelled>();
        Assert.Null(cancelled.PartialPath);
        Assert.Equal(Chunk, cancelled.BytesTransferred);
        Assert.Empty(Directory.GetFiles(Folder.Path));
    }

    [Fact]
    public void The_final_progress_of_a_body_of_unknown_length_gives_the_received_length_as_the_total()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 73);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content).End(), length: null);
        var transfers = StartRuntime();
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, Folder.File("unknown.bin"))));

        TransferProgress last;
        do last = Expect<TransferProgress>();
        while (last.TotalBytes is null);
        Assert.Equal((2L * Chunk, (long?)(2 * Chunk)), (last.BytesTransferred, last.TotalBytes));
        Assert.Equal(2 * Chunk, ExpectMsg<TransferCompleted>().Bytes);
    }

    [Fact]
    public void A_body_that_fails_with_an_error_that_is_not_a_dropped_connection_fails_at_once()
    {
        var content = TempFolder.Bytes(2 * Chunk, seed: 74);
        ThenBody(HttpStatusCode.OK, new GatedStream().Release(content.AsMemory(0, Chunk)).Fail(new InvalidDataException("bad chunked encoding")), content.Length);
        var transfers = StartRuntime();
        var destination = Folder.File("broken.bin");
        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination)));

        var failed = ExpectMsg<TransferFailed>();
        Assert.Equal(TransferFailure.Http, failed.Error.Failure);
        Assert.EndsWith(": bad chunked encoding", failed.Error.Message);
        Assert.Equal(destination + ".part", failed.PartialPath);
        Assert.Equal(1, Handler.Count);
    }
}
