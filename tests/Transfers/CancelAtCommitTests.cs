using System.Net;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// A race, so run as a loop: a cancel heard while the download's Finishing operation runs. The rename
/// does not look at the token once the file is flushed, so the file may get its final name while the transfer reports
/// TransferCancelled with a PartialPath that no longer exists. With the work started by Task.Run (1dab942) the window is
/// the whole queueing and commit; before it a download with nothing to verify committed inside the receive.
/// </summary>
public sealed class CancelAtCommitTests(ITestOutputHelper output)
    : ScriptedTransferTestKit(output, typeof(TransferProgress))
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin");

    [Fact]
    public void A_cancel_heard_while_the_file_is_committed_never_reports_cancelled_with_the_file_under_its_final_name()
    {
        var transfers = StartRuntime();
        var content = TempFolder.Bytes(Chunk / 2, seed: 5);
        var inconsistent = 0;
        var cancelled = 0;
        const int rounds = 200;
        for (var i = 0; i < rounds; i++)
        {
            ThenBody(HttpStatusCode.OK, new MemoryStream(content), content.Length);
            var destination = Folder.File($"race-{i}.bin");
            var request = DownloadRequest.ToFile(Url, destination);
            transfers.Tell(new StartDownload(request));
            // Published by OnStreamed right before Finish() starts the commit.
            Events.FishForMessage<TransferProgress>(p => p.TransferId == request.Id && p.BytesTransferred == content.Length, TimeSpan.FromSeconds(5));
            transfers.Tell(new CancelTransfer(request.Id));
            var end = ExpectMsg<TransferResult>(TimeSpan.FromSeconds(5));
            if (end is TransferCancelled)
            {
                cancelled++;
                if (File.Exists(destination)) inconsistent++;
            }
            Events.ReceiveWhile<object>(TimeSpan.Zero, m => m);
        }
        Assert.True(inconsistent == 0, $"{cancelled} of {rounds} cancelled, {inconsistent} of them with the file under its final name");
    }
}
