using System.Net;
using Akka.Actor;
using Courier.Tests.Support;
using Courier.Transfers;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Transfers;

/// <summary>
/// A tus server that breaks the protocol (tus 1.0: Location on creation, Upload-Offset on every PATCH and HEAD, an
/// Upload-Length that matches the file) fails the upload with a typed error that names the upload and what was wrong,
/// instead of guessing an offset and sending the wrong bytes.
/// </summary>
public sealed class TusProtocolErrorTests(ITestOutputHelper output) : ScriptedTransferTestKit(output, typeof(TransferRetryScheduled))
{
    private static readonly Uri Endpoint = new("https://uploads.example.test/files/");
    private const int FileLength = 3000;

    private string _source = null!;

    private void Answer(HttpStatusCode status, params (string Name, string Value)[] headers) =>
        Handler.ThenStatus(status, response =>
        {
            foreach (var (name, value) in headers)
                if (name == "Location") response.Headers.Location = new Uri(value, UriKind.RelativeOrAbsolute);
                else response.Headers.TryAddWithoutValidation(name, value);
        });

    private void Options(string extensions) =>
        Answer(HttpStatusCode.NoContent, ("Tus-Resumable", "1.0.0"), ("Tus-Version", "1.0.0"), ("Tus-Extension", extensions));

    private void Created() => Answer(HttpStatusCode.Created, ("Location", "/files/abc123"), ("Tus-Resumable", "1.0.0"));

    /// <summary>
    /// Runs the upload (1 KiB chunks), driving retries, and returns its error after checking that it names the file and
    /// the upload: the creation endpoint, or the upload URL once the server has given one.
    /// </summary>
    private TransferException Upload(int retries = 0, string target = "https://uploads.example.test/files/abc123")
    {
        _source = Folder.CreateFile("movie.mp4", FileLength, seed: 3).Path;
        var transfers = StartRuntime(o => o.MaxChunkSize = Chunk);
        transfers.Tell(new StartUpload(UploadRequest.Tus(Endpoint, _source)));
        for (var i = 0; i < retries; i++) Scheduler.Advance(Events.ExpectMsg<TransferRetryScheduled>().Delay);
        var error = ExpectMsg<TransferFailed>().Error;
        Assert.StartsWith($"Uploading '{_source}' to {target}: ", error.Message);
        return error;
    }

    [Fact]
    public void A_creation_answered_without_a_Location_is_a_protocol_violation()
    {
        Options("creation");
        Answer(HttpStatusCode.Created);

        var error = Upload(target: Endpoint.AbsoluteUri);
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.EndsWith(": the creation request was answered 201 without a Location.", error.Message);
    }

    [Fact]
    public void A_PATCH_answered_without_an_Upload_Offset_is_a_protocol_violation()
    {
        Options("creation");
        Created();
        Answer(HttpStatusCode.NoContent);

        var error = Upload();
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.EndsWith(": PATCH was answered 204 without a valid Upload-Offset.", error.Message);
    }

    [Fact]
    public void A_HEAD_answered_without_an_Upload_Offset_is_a_protocol_violation()
    {
        Options("creation");
        Created();
        Answer(HttpStatusCode.Conflict); // the first PATCH: ask the server where it stands
        Answer(HttpStatusCode.OK);       // the HEAD, without the offset

        var error = Upload(retries: 1);
        Assert.Equal(TransferFailure.ProtocolViolation, error.Failure);
        Assert.EndsWith(": HEAD was answered 200 without a valid Upload-Offset.", error.Message);
    }

    [Fact]
    public void A_server_holding_an_upload_of_another_length_is_a_length_mismatch()
    {
        Options("creation");
        Created();
        Answer(HttpStatusCode.Conflict);
        Answer(HttpStatusCode.OK, ("Upload-Offset", "1024"), ("Upload-Length", "9999"));

        var error = Assert.IsType<TransferIntegrityException>(Upload(retries: 1));
        Assert.Equal(TransferFailure.LengthMismatch, error.Failure);
        Assert.EndsWith($": the server holds an upload of 9999 bytes but the file has {FileLength}.", error.Message);
    }

    [Fact]
    public void A_server_reporting_an_offset_past_the_end_of_the_file_is_a_length_mismatch()
    {
        Options("creation");
        Created();
        Answer(HttpStatusCode.Conflict);
        Answer(HttpStatusCode.OK, ("Upload-Offset", "5000"), ("Upload-Length", FileLength.ToString()));

        var error = Assert.IsType<TransferIntegrityException>(Upload(retries: 1));
        Assert.EndsWith($": the server reports offset 5000 past the end of the {FileLength}-byte file.", error.Message);
    }

    [Fact]
    public void A_creation_with_upload_acknowledging_more_than_was_sent_is_a_length_mismatch()
    {
        Options("creation,creation-with-upload");
        Answer(HttpStatusCode.Created, ("Location", "/files/abc123"), ("Upload-Offset", "99999"));

        var error = Assert.IsType<TransferIntegrityException>(Upload());
        Assert.EndsWith($": the server acknowledged offset 99999 after a creation with {Chunk} bytes.", error.Message);
    }
}
