using System.Net;
using Akka.Actor;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// What a multipart upload promises its caller beyond the request itself: progress from the first byte to the last
/// (polled while the one request runs), a deadline that leaves the whole attempt timeout to a large file, no "completed"
/// for a file the server did not take in full, and the server's answer handed back, capped.
/// </summary>
public sealed class MultipartUploadTests(ITestOutputHelper output) : ScriptedTransferTestKit(output, typeof(TransferProgress))
{
    private static readonly Uri Endpoint = new("https://uploads.example.test/files/");

    /// <summary>The next request is held (its body read in full) until the returned source is completed.</summary>
    private TaskCompletionSource<HttpResponseMessage> HoldNextAnswer()
    {
        var answer = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        Handler.Then((_, _) => answer.Task);
        return answer;
    }

    [Fact]
    public void Progress_starts_at_zero_and_ends_with_a_final_event_for_the_whole_file()
    {
        var (source, _) = Folder.CreateFile("report.pdf", 5000);
        // Only the events a transfer must publish: no interval or step passes during the test.
        var transfers = StartRuntime(o => (o.ProgressInterval, o.ProgressStep) = (TimeSpan.FromHours(1), 0));

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));

        var first = Events.ExpectMsg<TransferProgress>();
        Assert.Equal((0L, 5000L), (first.BytesTransferred, first.TotalBytes));
        var last = Events.ExpectMsg<TransferProgress>();
        Assert.Equal((5000L, 5000L, TimeSpan.Zero), (last.BytesTransferred, last.TotalBytes, last.Eta));
        Assert.Equal(5000, ExpectMsg<TransferCompleted>().Bytes);
        Events.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void While_the_one_request_runs_its_progress_is_polled_at_the_progress_interval()
    {
        var (source, _) = Folder.CreateFile("report.pdf", 5000);
        var answer = HoldNextAnswer();
        var transfers = StartRuntime(o => (o.ProgressInterval, o.ProgressStep) = (TimeSpan.FromMilliseconds(100), 0));

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));
        Assert.Equal(0, Events.ExpectMsg<TransferProgress>().BytesTransferred);
        Seen.ExpectMsg<SeenRequest>(); // the whole body has been read by the server; its answer is held

        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        var polled = Events.ExpectMsg<TransferProgress>();
        Assert.Equal(5000, polled.BytesTransferred);
        ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // not completed before the server answers

        answer.SetResult(new HttpResponseMessage(HttpStatusCode.Created) { Content = new StringContent("{}") });
        ExpectMsg<TransferCompleted>();
    }

    [Fact]
    public void An_upload_may_use_its_whole_attempt_timeout_even_past_the_call_deadline_of_ordinary_calls()
    {
        var (source, _) = Folder.CreateFile("backup.tar", 5000);
        var answer = HoldNextAnswer();
        var transfers = StartRuntime(
            o => (o.UploadAttemptTimeout, o.ProgressInterval) = (TimeSpan.FromMinutes(10), TimeSpan.FromMinutes(1)),
            runtime => runtime.CallDeadline = TimeSpan.FromSeconds(30));

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));
        Seen.ExpectMsg<SeenRequest>();
        Scheduler.Advance(TimeSpan.FromMinutes(9.75)); // a slow link: the server answers just inside the attempt timeout
        answer.SetResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("{}") });

        Assert.Equal(5000, ExpectMsg<TransferCompleted>().Bytes);
    }

    [Fact]
    public void A_server_that_answers_before_the_whole_file_is_sent_fails_the_upload_with_a_length_mismatch()
    {
        var (source, _) = Folder.CreateFile("report.pdf", 5000);
        Handler.ThenAnswerUnread(HttpStatusCode.OK);
        var transfers = StartRuntime();

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));

        var error = Assert.IsType<TransferIntegrityException>(ExpectMsg<TransferFailed>().Error);
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.Equal($"Uploading '{source}' to https://uploads.example.test/files/: the server answered 200 before the whole file was sent.",
            error.Message);
        Assert.Equal(1, Handler.Count); // not sent again: the server took the request as it was
    }

    [Fact]
    public void The_servers_answer_is_handed_back_cut_to_MaxErrorBodyBytes()
    {
        var (source, _) = Folder.CreateFile("report.pdf", 100);
        Handler.Then((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Created) { Content = new StringContent("0123456789abcdefghij") }));
        var transfers = StartRuntime(configureRuntime: runtime => runtime.MaxErrorBodyBytes = 10);

        transfers.Tell(new StartUpload(UploadRequest.Multipart(Endpoint, source)));

        Assert.Equal("0123456789", ExpectMsg<TransferCompleted>().ResponseBody);
    }
}
