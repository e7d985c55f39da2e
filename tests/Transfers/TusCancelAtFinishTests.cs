using System.Net;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// A race, run as a loop: the tus twin of <see cref="CancelAtCommitTests"/>: a cancel heard
/// while the upload's Finishing operation runs (the server already holds every byte; Finishing deletes the .tus state).
/// </summary>
public sealed class TusCancelAtFinishTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress))
{
    private static readonly Uri Endpoint = new("https://uploads.example.test/files/");
    private const string UploadUrl = "https://uploads.example.test/files/abc123";

    [Fact]
    public async Task A_cancel_heard_while_a_complete_tus_upload_finishes_never_reports_a_partial_path_that_is_gone()
    {
        var transfers = StartRuntime(options => options.MaxChunkSize = Chunk);
        var inconsistent = 0;
        var cancelled = 0;
        const int rounds = 100;
        for (var i = 0; i < rounds; i++)
        {
            var (source, _) = Folder.CreateFile($"movie-{i}.mp4", 3000, seed: i);
            var state = source + ".tus";
            await TransferState.SaveAsync(state, new UploadState(Endpoint.AbsoluteUri, UploadUrl, 3000, File.GetLastWriteTimeUtc(source)).Write, CancellationToken.None);
            Handler.Then((_, _) =>
            {
                var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
                response.Headers.TryAddWithoutValidation("Upload-Offset", "3000");
                response.Headers.TryAddWithoutValidation("Upload-Length", "3000");
                return Task.FromResult(response);
            });
            var request = UploadRequest.Tus(Endpoint, source);
            transfers.Tell(new StartUpload(request));
            // Published by Acknowledged right before Next() starts Finishing.
            Events.FishForMessage<TransferProgress>(p => p.TransferId == request.Id && p.BytesTransferred == 3000, TimeSpan.FromSeconds(5));
            transfers.Tell(new CancelTransfer(request.Id));
            if (ExpectMsg<TransferResult>(TimeSpan.FromSeconds(5)) is TransferCancelled { PartialPath: { } kept })
            {
                cancelled++;
                if (!File.Exists(kept)) inconsistent++;
            }
            Events.ReceiveWhile<object>(TimeSpan.Zero, m => m);
        }
        Assert.True(inconsistent == 0, $"{cancelled} of {rounds} cancelled with a partial path, {inconsistent} of them gone");
    }
}
