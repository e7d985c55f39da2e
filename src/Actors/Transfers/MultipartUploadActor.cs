using Akka.Actor;
using Courier.Diagnostics;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// Runs one multipart upload: a single <c>multipart/form-data</c> POST with the extra fields and the file (streamed from
/// disk by a <see cref="FileUploadContent"/>, hashed on the way only when <see cref="UploadRequest.ComputeSha256"/> asks). Being one request, a failure restarts it from the
/// beginning, within <see cref="TransferOptions.MaxRetriesPerChunk"/>; progress is polled from the content's counter.
/// </summary>
internal sealed class MultipartUploadActor : TransferActor
{
    private readonly UploadRequest _request;

    protected override System.Diagnostics.ActivityContext TraceParent => _request.TraceParent;
    private readonly ByteCounter _sent = new();
    private readonly ContentSlot _slot = new();
    private long _length;

    private MultipartUploadActor(UploadRequest request, TransferRuntime runtime)
        : base(request.Id, TransferDirection.Upload, runtime, request.Progress, request.ToString())
    {
        _request = request;
    }

    public static Props Props(UploadRequest request, TransferRuntime runtime) =>
        Internal.FactoryProducer<MultipartUploadActor>.Props(() => new MultipartUploadActor(request, runtime));

    private string What => $"Uploading '{_request.SourcePath}' to {SafeUrl.Format(_request.Target)}";

    protected override string? PartialPath => null;

    protected override long Activity => _sent.Value;

    protected override void Start()
    {
        var path = _request.SourcePath;
        RunIo("Preparing", _ => TransferFiles.InspectSourceAsync(path), OnInspected, OnIoError);
    }

    private void OnInspected(TransferFiles.Source source)
    {
        _length = source.Length;
        ReportProgress(0, 0, _length);
        SendUpload();
    }

    private void SendUpload()
    {
        // The factory runs on the request path (once per attempt): it only touches what it captured.
        var (path, length, bufferSize, sent, slot, request) = (_request.SourcePath, _length, Runtime.ReadBufferSize, _sent, _slot, _request);
        var body = RequestBody.FromFactory(() =>
        {
            var file = new FileUploadContent(path, length, bufferSize, sent, request.ComputeSha256);
            file.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(request.ContentType);
            var form = new MultipartFormDataContent();
            foreach (var (name, value) in request.Fields) form.Add(new StringContent(value), name);
            form.Add(file, request.FileField, request.EffectiveFileName);
            slot.Current = file;
            return form;
        });
        var timeout = Runtime.UploadAttemptTimeout;
        Send(NewCall(HttpMethod.Post, _request.Target, _request.Headers, _request.Anonymous) with
        {
            Body = body,
            AttemptTimeout = timeout,
            Deadline = timeout + Runtime.Requests.CallDeadline,
        }, OnResponse, OnCallFailed);
        StartTicking();
    }

    protected override void OnRetry() => SendUpload();

    protected override void OnTick() => ReportProgress(_sent.Value, 0, _length);

    private void OnResponse(HttpResponseMessage response)
    {
        StopTicking();
        if (_slot.Current is not { Completed: true } content)
        {
            response.Dispose();
            Fail(new TransferIntegrityException(TransferFailure.LengthMismatch, _length.ToString(), _sent.Value.ToString(),
                $"{What}: the server answered {(int)response.StatusCode} before the whole file was sent."));
            return;
        }
        var (sha, max) = (content.Sha256 is { } digest ? Convert.ToHexStringLower(digest) : null, Runtime.Requests.MaxErrorBodyBytes);
        RunIo("Reading the answer", async ct =>
        {
            using (response)
            {
                var text = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false); // already buffered by the request path
                return text.Length > max ? text[..max] : text;
            }
        }, body =>
        {
            ReportProgress(_length, _length, _length, final: true);
            Complete(_request.SourcePath, _length, sha, responseBody: body);
        }, OnIoError);
    }

    private void OnCallFailed(Exception error)
    {
        StopTicking();
        if (IsTransient(error) && FindInner<TransferException>(error) is null)
        {
            RetryOrFail(Describe(error, What), error.Message, 0); // one request: it starts again from the first byte
            return;
        }
        Fail(Describe(error, What));
    }

    private void OnIoError(Exception error) =>
        Fail(error as TransferException ?? new TransferException(TransferFailure.Http, $"{What}: reading the answer failed: {error.Message}", error));

    protected override Task ReleaseAsync(TransferResult result) => Task.CompletedTask; // the request path disposes the content

    protected override void ReleaseNow()
    {
    }

    /// <summary>The content of the latest attempt, set by the body factory on the request path.</summary>
    private sealed class ContentSlot
    {
        private FileUploadContent? _current;

        public FileUploadContent? Current
        {
            get => Volatile.Read(ref _current);
            set => Volatile.Write(ref _current, value);
        }
    }
}
