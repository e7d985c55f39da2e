using System.Net;
using Akka.Actor;
using Akka.Event;
using Courier.Diagnostics;
using Courier.Requests;
using Microsoft.Win32.SafeHandles;

namespace Courier.Transfers;

/// <summary>
/// Runs one tus 1.0 upload (core protocol, the creation extension, and creation-with-upload when the server advertises
/// it): <c>OPTIONS</c> asks which extensions the server has; <c>POST</c> with <c>Upload-Length</c> and
/// <c>Upload-Metadata</c> creates the upload (carrying the first chunk when the server advertises
/// <c>creation-with-upload</c>), then one <c>PATCH</c> per chunk at <c>Upload-Offset</c>, the chunk streamed from the file
/// (no chunk buffer, no copy). The chunk size adapts (<see cref="TusChunkSizer"/>). After any failure <c>HEAD</c> tells
/// where the server really is (a 409 offset mismatch is answered the same way), so each chunk is retried from the
/// server's offset with the backoff policy. The upload URL is kept beside the source so that a new process resumes
/// instead of starting over.
/// </summary>
/// <remarks>
/// The SHA-256 is computed only when <see cref="UploadRequest.ComputeSha256"/> asks for it, by reading the file once
/// more at the end: the bytes the server acknowledged are the file's, in order, and hashing them as they are sent would
/// have to be undone for every chunk the server did not keep.
/// </remarks>
internal sealed class TusUploadActor : TransferActor
{
    private const string CreationWithUpload = "creation-with-upload";

    private readonly UploadRequest _request;

    protected override System.Diagnostics.ActivityContext TraceParent => _request.TraceParent;
    private readonly ByteCounter _sent = new(); // bytes of the chunk in flight written to the request stream
    private readonly TusChunkSizer _chunks;
    private long _length;
    private DateTime _written;
    private SafeFileHandle? _source;
    private Uri? _uploadUrl;
    private long _offset;              // the server's offset, as last acknowledged
    private long _chunkStart;          // the chunk in flight: [_chunkStart, _chunkStart + _chunkCount)
    private long _chunkCount;
    private DateTimeOffset _chunkSentAt;
    private bool _withUpload;          // the server advertised creation-with-upload
    private bool _recreated;

    private TusUploadActor(UploadRequest request, TransferRuntime runtime)
        : base(request.Id, TransferDirection.Upload, runtime, request.Progress, request.ToString())
    {
        _request = request;
        _chunks = new TusChunkSizer(runtime.ChunkSize, runtime.MaxChunkSize);
    }

    public static Props Props(UploadRequest request, TransferRuntime runtime) =>
        Internal.FactoryProducer<TusUploadActor>.Props(() => new TusUploadActor(request, runtime));

    /// <summary>Which request a failure belongs to (the continuation of each request passes its own).</summary>
    private enum Step
    {
        Create,
        Head,
        Patch,
    }

    private string What => $"Uploading '{_request.SourcePath}' to {SafeUrl.Format(_uploadUrl ?? _request.Target)}";

    private string StatePath => _request.EffectiveStatePath;

    protected override string? PartialPath => _uploadUrl is null ? null : StatePath;

    protected override long Activity => _sent.Value;

    // ---- start --------------------------------------------------------------------------------------------------

    protected override void Start()
    {
        var (path, statePath, endpoint) = (_request.SourcePath, StatePath, _request.Target.AbsoluteUri);
        RunIo("Preparing", ct => PrepareAsync(path, statePath, endpoint, ct), OnPrepared, OnIoError, abandon: Adopt);
    }

    private static async Task<Prepared> PrepareAsync(string path, string statePath, string endpoint, CancellationToken cancellationToken)
    {
        var source = await TransferFiles.InspectSourceAsync(path).ConfigureAwait(false);
        var state = await TransferState.LoadAsync(statePath, UploadState.Read, cancellationToken).ConfigureAwait(false);
        // Only an upload of this very file (same length, not written since) to the same endpoint is resumed, and only at an
        // http(s) URL: on Unix "/files/x" parses as an absolute file: URI, which no request may go to.
        if (state is not null && (state.Endpoint != endpoint || state.Length != source.Length || state.SourceWrittenUtc != source.WrittenUtc
                                  || !Uri.TryCreate(state.UploadUrl, UriKind.Absolute, out var kept)
                                  || kept.Scheme != Uri.UriSchemeHttp && kept.Scheme != Uri.UriSchemeHttps))
            state = null;
        try
        {
            // One handle for the whole upload: every chunk is read from it at its offset.
            var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, FileOptions.Asynchronous);
            return new Prepared(source, state, handle);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TransferSourceException(TransferFailure.SourceUnreadable, path, $"The upload source '{path}' cannot be opened: {ex.Message}", ex);
        }
    }

    // ---- requests -----------------------------------------------------------------------------------------------

    /// <summary>A source opened after the transfer started ending: kept so that the release closes it.</summary>
    private void Adopt(Prepared prepared)
    {
        if (_source is null) _source = prepared.Handle;
        else prepared.Handle.Dispose();
    }

    private void OnPrepared(Prepared prepared)
    {
        _length = prepared.Source.Length;
        _written = prepared.Source.WrittenUtc;
        _source = prepared.Handle;
        ReportProgress(0, 0, _length);
        if (prepared.State is { } state)
        {
            _uploadUrl = new Uri(state.UploadUrl);
            Context.System.EventStream.Publish(new TransferResumed(Id, Direction, StatePath, 0));
            SendHead();
        }
        else
        {
            SendOptions();
        }
    }

    /// <summary>
    /// Asks the server which extensions it has (tus 1.0, OPTIONS). Any answer that does not list creation-with-upload,
    /// including an error (a server or proxy that does not route OPTIONS), means plain creation: the extension is used
    /// only when advertised.
    /// </summary>
    private void SendOptions() =>
        Send(NewCall(HttpMethod.Options, _request.Target, _request.Headers, _request.Anonymous,
                new KeyValuePair<string, string>(TransferHeaders.TusResumable, TransferHeaders.TusVersion)),
            Answered(response =>
            {
                _withUpload = TransferHeaders.TusExtensions(response).Contains(CreationWithUpload, StringComparer.OrdinalIgnoreCase);
                SendCreate();
            }),
            _ =>
            {
                // Whatever went wrong, the POST meets it too and reports it (or retries) in its own terms.
                _withUpload = false;
                SendCreate();
            });

    private void SendCreate()
    {
        var metadata = new List<KeyValuePair<string, string>>(_request.Fields.Count + 2)
        {
            new("filename", _request.EffectiveFileName),
            new("filetype", _request.ContentType),
        };
        metadata.AddRange(_request.Fields);
        var call = NewCall(HttpMethod.Post, _request.Target, _request.Headers, _request.Anonymous,
            new(TransferHeaders.TusResumable, TransferHeaders.TusVersion),
            new(TransferHeaders.UploadLength, _length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(TransferHeaders.UploadMetadata, TransferHeaders.TusMetadata(metadata)));
        if (_withUpload && _length > 0)
        {
            // creation-with-upload: the first chunk rides on the POST (one round trip less).
            call = WithChunk(call, 0);
        }
        else
        {
            _chunkCount = 0;
        }
        Send(call, Answered(OnCreated), error => OnCallFailed(error, Step.Create));
    }

    private void SendHead() =>
        Send(NewCall(HttpMethod.Head, _uploadUrl!, _request.Headers, _request.Anonymous, new KeyValuePair<string, string>(TransferHeaders.TusResumable, TransferHeaders.TusVersion)),
            Answered(OnHead), error => OnCallFailed(error, Step.Head));

    private void SendPatch()
    {
        var call = NewCall(HttpMethod.Patch, _uploadUrl!, _request.Headers, _request.Anonymous,
            new(TransferHeaders.TusResumable, TransferHeaders.TusVersion),
            new(TransferHeaders.UploadOffset, _offset.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        Send(WithChunk(call, _offset), Answered(OnPatched), error => OnCallFailed(error, Step.Patch));
    }

    /// <summary>
    /// <paramref name="call"/> carrying the next chunk, from <paramref name="start"/>: the file segment is streamed from
    /// disk as the request content (the factory runs on the request path, once per attempt, and touches only what it captured).
    /// </summary>
    private HttpCall WithChunk(HttpCall call, long start)
    {
        _chunkStart = start;
        _chunkCount = Math.Min(_chunks.Size, _length - start);
        _chunkSentAt = Now;
        var (path, handle, count, length, bufferSize, sent) = (_request.SourcePath, _source!, _chunkCount, _length, Runtime.ReadBufferSize, _sent);
        sent.Reset();
        var body = RequestBody.FromFactory(() =>
        {
            var content = new FileUploadContent(path, handle, start, count, checkEnd: start + count == length, bufferSize, sent, computeSha256: false);
            content.Headers.ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue(TransferHeaders.OffsetOctetStream);
            return content;
        });
        var timeout = Runtime.UploadAttemptTimeout;
        StartTicking();
        return call with { Body = body, AttemptTimeout = timeout, Deadline = timeout + Runtime.Requests.CallDeadline };
    }

    /// <summary>Any failure is followed by HEAD: the server's offset is the truth, whatever the failed request did.</summary>
    protected override void OnRetry()
    {
        if (_uploadUrl is null) SendCreate();
        else SendHead();
    }

    protected override void OnTick()
    {
        if (_chunkCount > 0) ReportProgress(_chunkStart + Math.Min(_sent.Value, _chunkCount), _offset, _length);
    }

    // ---- answers ------------------------------------------------------------------------------------------------

    /// <summary>A continuation that disposes the answer after <paramref name="handle"/> read its headers.</summary>
    private Action<HttpResponseMessage> Answered(Action<HttpResponseMessage> handle) => response =>
    {
        StopTicking();
        using (response) handle(response);
    };

    private void OnCreated(HttpResponseMessage response)
    {
        if (response.Headers.Location is not { } location)
        {
            Fail(Protocol($"the creation request was answered {(int)response.StatusCode} without a Location"));
            return;
        }
        _uploadUrl = location.IsAbsoluteUri ? location : new Uri(_request.Target, location);
        long acknowledged = 0;
        var verify = false;
        if (_chunkCount > 0)
        {
            // creation-with-upload: the answer says how much of the first chunk the server kept; without it, ask.
            if (TransferHeaders.TusOffset(response) is { } offset)
            {
                if (offset > _chunkCount)
                {
                    Fail(Integrity(_chunkCount, offset, $"the server acknowledged offset {offset} after a creation with {_chunkCount} bytes"));
                    return;
                }
                acknowledged = offset;
                ChunkAnswered(offset);
            }
            else
            {
                verify = true; // HEAD tells how much of the first chunk was kept
                _chunkCount = 0;
            }
        }
        var (statePath, state, log, id) = (StatePath, new UploadState(_request.Target.AbsoluteUri, _uploadUrl.AbsoluteUri, _length, _written), Runtime.Requests.Log, Id);
        RunIo("Saving the upload URL", async ct =>
        {
            try
            {
                await TransferState.SaveAsync(statePath, state.Write, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A read-only source folder: the upload still runs, it just cannot be resumed by another process.
                log.Warning("Transfer {0}: the tus state '{1}' cannot be written ({2}); the upload will not be resumable across processes.", id, statePath, ex.Message);
            }
            return statePath;
        }, _ =>
        {
            if (verify)
            {
                SendHead();
                return;
            }
            Acknowledged(acknowledged);
            Next();
        }, OnIoError);
    }

    private void OnHead(HttpResponseMessage response)
    {
        var offset = TransferHeaders.TusOffset(response);
        if (offset is null)
        {
            Fail(Protocol($"HEAD was answered {(int)response.StatusCode} without a valid Upload-Offset"));
            return;
        }
        if (TransferHeaders.TusLength(response) is { } length && length != _length)
        {
            Fail(Integrity(_length, length, $"the server holds an upload of {length} bytes but the file has {_length}"));
            return;
        }
        if (offset > _length)
        {
            Fail(Integrity(_length, offset.Value, $"the server reports offset {offset} past the end of the {_length}-byte file"));
            return;
        }
        Acknowledged(offset.Value);
        Next();
    }

    private void OnPatched(HttpResponseMessage response)
    {
        var offset = TransferHeaders.TusOffset(response);
        if (offset is null)
        {
            Fail(Protocol($"PATCH was answered {(int)response.StatusCode} without a valid Upload-Offset"));
            return;
        }
        var end = _chunkStart + _chunkCount;
        if (offset < _chunkStart || offset > end)
        {
            Fail(Integrity(end, offset.Value, $"the server acknowledged offset {offset} after a PATCH of {_chunkCount} bytes at {_chunkStart}"));
            return;
        }
        var (start, count) = (_chunkStart, _chunkCount);
        ChunkAnswered(offset.Value - _chunkStart);
        Acknowledged(offset.Value);
        if (offset.Value == start && count > 0)
        {
            // The server kept none of the chunk and said so. Sending it again at once would loop without end against a
            // server that keeps doing that: it is a failed attempt, retried after the backoff (a HEAD first, as after
            // any failure) and counted, so the upload ends with this error once the retries are spent.
            RetryOrFail(Protocol($"the server kept none of the {count}-byte PATCH at offset {start} (it answered Upload-Offset {offset})"),
                "the server kept none of the PATCH: asking it for its offset", _offset);
            return;
        }
        Next();
    }

    /// <summary>A chunk was answered with <paramref name="kept"/> of its bytes stored: the next chunk's size follows from how long it took.</summary>
    private void ChunkAnswered(long kept)
    {
        if (kept == _chunkCount) _chunks.Completed(_chunkCount, Now - _chunkSentAt);
        else _chunks.Failed();
        _chunkCount = 0;
    }

    /// <summary>The server holds bytes [0, offset): report, reset the retry count.</summary>
    private void Acknowledged(long offset)
    {
        if (offset > _offset) MadeProgress();
        _offset = offset;
        ReportProgress(offset, offset, _length);
    }

    private void Next()
    {
        if (_offset < _length)
        {
            SendPatch();
            return;
        }
        var (path, statePath, length, bufferSize, hash) = (_request.SourcePath, StatePath, _length, Runtime.ReadBufferSize, _request.ComputeSha256);
        RunIo("Finishing", async ct =>
        {
            // The state goes last: a cancel that stops the hash leaves it, and a later run completes with one HEAD.
            var sha = hash ? await TransferFiles.Sha256Async(path, length, bufferSize, ct).ConfigureAwait(false) : null;
            TransferState.Delete(statePath);
            return sha;
        }, hashed =>
        {
            ReportProgress(_length, _length, _length, final: true);
            Complete(_request.SourcePath, _length, hashed, _uploadUrl);
        }, OnIoError, abandon: hashed =>
        {
            // A cancel heard while it finished: the server holds every byte and the state is gone: it completed.
            ReportProgress(_length, _length, _length, final: true);
            CompletedWhileEnding(_request.SourcePath, _length, hashed, _uploadUrl);
        });
    }

    // ---- failures -----------------------------------------------------------------------------------------------

    private void OnCallFailed(Exception error, Step step)
    {
        StopTicking();
        var carriedChunk = _chunkCount > 0;
        if (carriedChunk) _chunks.Failed();
        _chunkCount = 0;
        var gone = IsStatus(error, HttpStatusCode.NotFound) || IsStatus(error, HttpStatusCode.Gone) || IsStatus(error, HttpStatusCode.Forbidden);
        if (step != Step.Create && gone && !_recreated)
        {
            // The server forgot the upload (expired, or a stale state file): create it anew, once.
            _recreated = true;
            _uploadUrl = null;
            _offset = 0;
            SendCreate();
            return;
        }
        if (step == Step.Create && carriedChunk && (IsStatus(error, HttpStatusCode.BadRequest) || IsStatus(error, HttpStatusCode.UnsupportedMediaType)))
        {
            // The server advertised creation-with-upload but refused the body: create without it (once), then PATCH.
            _withUpload = false;
            SendCreate();
            return;
        }
        if (IsStatus(error, HttpStatusCode.RequestEntityTooLarge) && carriedChunk && _chunks.Size < _chunks.SizeBeforeFailure)
        {
            // A body limit below the chunk size (a proxy's, say): the chunk was halved; ask where the server is and go on.
            OnRetry();
            return;
        }
        if (step == Step.Patch && IsStatus(error, HttpStatusCode.Conflict))
        {
            RetryOrFail(Describe(error, What), "offset mismatch (409): asking the server for its offset", _offset);
            return;
        }
        if (IsTransient(error) && FindInner<TransferException>(error) is null) // a source that changed is not retried
        {
            RetryOrFail(Describe(error, What), error.Message, _offset);
            return;
        }
        Fail(Describe(error, What));
    }

    private void OnIoError(Exception error) =>
        Fail(error as TransferException ?? new TransferException(TransferFailure.LocalIo, $"{What}: {error.Message}", error));

    private TransferException Protocol(string detail) => new(TransferFailure.ProtocolViolation, $"{What}: {detail}.");

    private TransferIntegrityException Integrity(long expected, long actual, string detail) =>
        new(TransferFailure.LengthMismatch, expected.ToString(), actual.ToString(), $"{What}: {detail}.");

    // ---- release ------------------------------------------------------------------------------------------------

    protected override Task ReleaseAsync(TransferResult result)
    {
        ReleaseNow();
        return Task.CompletedTask;
    }

    protected override void ReleaseNow()
    {
        _source?.Dispose();
        _source = null;
    }

    // ---- private protocol ---------------------------------------------------------------------------------------

    private sealed record Prepared(TransferFiles.Source Source, UploadState? State, SafeFileHandle Handle);
}
