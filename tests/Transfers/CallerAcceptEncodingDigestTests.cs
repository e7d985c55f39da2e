using System.Net;
using System.Net.Http.Headers;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>A server's digest is skipped only when a handler below may really have decoded the body.</summary>
public sealed class CallerAcceptEncodingDigestTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress), typeof(TransferRetryScheduled))
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin");

    [Fact]
    public void A_caller_who_asks_for_gzip_and_gets_an_identity_body_of_unknown_length_still_has_the_servers_digest_checked()
    {
        // The caller's own Accept-Encoding goes instead of identity (documented); this server sends the identity coding
        // anyway, chunked (no Content-Length), with a Repr-Digest the bytes do not match. Nothing below the runtime decoded
        // anything (the transfer client does not decompress): the digest applies to these very bytes and must be checked.
        var content = TempFolder.Bytes(2 * Chunk, seed: 91);
        var wrong = TransferHeaders.FormatSha256(System.Security.Cryptography.SHA256.HashData(TempFolder.Bytes(2 * Chunk, seed: 92)));
        Handler.Then((request, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StreamContent(new MemoryStream(content)), RequestMessage = request };
            response.Content.Headers.ContentLength = null;
            response.Headers.ETag = EntityTagHeaderValue.Parse("\"v1\"");
            response.Headers.TryAddWithoutValidation("Repr-Digest", wrong);
            return Task.FromResult(response);
        });
        var transfers = StartRuntime();
        var destination = Folder.File("asked-gzip.bin");

        transfers.Tell(new StartDownload(DownloadRequest.ToFile(Url, destination) with { Headers = [new("Accept-Encoding", "gzip")] }));

        Assert.Equal("gzip", Seen.ExpectMsg<SeenRequest>().Headers["Accept-Encoding"]);
        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.DigestMismatch, error.Failure);
        Assert.False(File.Exists(destination));
    }
}
