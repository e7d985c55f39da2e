using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Akka.Actor;
using Akka.Event;
using Courier.Diagnostics;
using Courier.Requests;
using Microsoft.Win32.SafeHandles;

namespace Courier.Transfers;

/// <summary>
/// Runs one tus 1.0 upload (core protocol and the creation extension): <c>POST</c> with <c>Upload-Length</c> and
/// <c>Upload-Metadata</c> creates the upload, then one chunk at a time is read from disk into the one chunk buffer and
/// sent with <c>PATCH</c> at <c>Upload-Offset</c>. After any failure <c>HEAD</c> tells where the server really is (a
/// 409 offset mismatch is answered the same way), so each chunk is retried from the server's offset with the backoff
/// policy. The upload URL is kept beside the source so that a new process resumes instead of starting over.
/// </summary>
/// <remarks>
/// The SHA-256 is computed from the bytes the server acknowledged, in order, as they are acknowledged; when the server's
/// offset jumps somewhere the chunk buffer cannot account for (a resume by another process), the file is hashed once more
/// at the end instead.
/// </remarks>
internal sealed class TusUploadActor : TransferActor
{
    private readonly UploadRequest _request;

    protected override System.Diagnostics.ActivityContext TraceParent => _request.TraceParent;
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private long _length;
    private DateTime _written;
    private SafeFileHandle? _source;
    private Uri? _uploadUrl;
    private long _offset;              // the server's offset, as last acknowledged
    private long _hashed;              // the hash covers bytes [0, _hashed)
    private bool _hashBroken;
    private byte[]? _buffer;           // the chunk buffer: bytes [_bufferStart, _bufferStart + _bufferCount) of the file
    private bool _bufferMayBeInUse;    // a PATCH that got no 2xx may still be reading it: never reuse or pool it
    private long _bufferStart;
    private int _bufferCount;
    private bool _recreated;

    private TusUploadActor(UploadRequest request, TransferRuntime runtime)
        : base(request.Id, TransferDirection.Upload, runtime, request.Progress, request.ToString())
    {
        _request = request;
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

    // ---- start --------------------------------------------------------------------------------------------------

    protected override void Start()
    {
        var (path, statePath, endpoint) = (_request.SourcePath, StatePath, _request.Target.AbsoluteUri);
        RunIo("Preparing", ct => PrepareAsync(path, statePath, endpoint, ct), OnPrepared, OnIoError, abandon: Adopt);
    }

    private static async Task<Prepared> PrepareAsync(string path, string statePath, string endpoint, CancellationToken cancellationToken)
    {
        var source = await TransferFiles.InspectSourceAsync(path).ConfigureAwait(false);
        var state = await TransferState.LoadAsync<UploadState>(statePath, cancellationToken).ConfigureAwait(false);
        // Only an upload of this very file (same length, not written since) to the same endpoint is resumed.
        if (state is not null && (state.Endpoint != endpoint || state.Length != source.Length || state.SourceWrittenUtc != source.WrittenUtc
                                  || !Uri.TryCreate(state.UploadUrl, UriKind.Absolute, out _)))
            state = null;
        try
        {
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
            SendCreate();
        }
    }

    private void SendCreate()
    {
        var metadata = new List<KeyValuePair<string, string>>(_request.Fields.Count + 2)
        {
            new("filename", _request.EffectiveFileName),
            new("filetype", _request.ContentType),
        };
        metadata.AddRange(_request.Fields);
        Send(NewCall(HttpMethod.Post, _request.Target, _request.Headers, _request.Anonymous,
            new(TransferHeaders.TusResumable, TransferHeaders.TusVersion),
            new(TransferHeaders.UploadLength, _length.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            new(TransferHeaders.UploadMetadata, TransferHeaders.TusMetadata(metadata))),
            Answered(OnCreated), error => OnCallFailed(error, Step.Create));
    }

    private void SendHead() =>
        Send(NewCall(HttpMethod.Head, _uploadUrl!, _request.Headers, _request.Anonymous, new KeyValuePair<string, string>(TransferHeaders.TusResumable, TransferHeaders.TusVersion)),
            Answered(OnHead), error => OnCallFailed(error, Step.Head));

    private void ReadChunk()
    {
        if (_buffer is null || _bufferMayBeInUse)
        {
            _buffer = ArrayPool<byte>.Shared.Rent(Runtime.ChunkSize); // an abandoned buffer is left to the GC, never pooled
            _bufferMayBeInUse = false;
        }
        var (handle, buffer, offset, count, path) = (_source!, _buffer, _offset, (int)Math.Min(Runtime.ChunkSize, _length - _offset), _request.SourcePath);
        RunIo("Reading a chunk", ct => ReadAsync(handle, buffer, offset, count, path, ct), OnChunkRead, OnIoError);
    }

    private static async Task<ChunkRead> ReadAsync(SafeFileHandle handle, byte[] buffer, long offset, int count, string path, CancellationToken cancellationToken)
    {
        var filled = 0;
        while (filled < count)
        {
            int read;
            try
            {
                read = await RandomAccess.ReadAsync(handle, buffer.AsMemory(filled, count - filled), offset + filled, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw new TransferSourceException(TransferFailure.SourceUnreadable, path, $"Reading the upload source '{path}' failed: {ex.Message}", ex);
            }
            if (read == 0)
                throw new TransferSourceException(TransferFailure.SourceUnreadable, path, $"The upload source '{path}' shrank while it was being sent.");
            filled += read;
        }
        return new ChunkRead(offset, count);
    }

    private void OnChunkRead(ChunkRead chunk)
    {
        _bufferStart = chunk.Offset;
        _bufferCount = chunk.Count;
        SendPatch();
    }

    private void SendPatch()
    {
        _bufferMayBeInUse = true;
        var timeout = Runtime.UploadAttemptTimeout;
        Send(NewCall(HttpMethod.Patch, _uploadUrl!, _request.Headers, _request.Anonymous,
                new(TransferHeaders.TusResumable, TransferHeaders.TusVersion),
                new(TransferHeaders.UploadOffset, _bufferStart.ToString(System.Globalization.CultureInfo.InvariantCulture))) with
        {
            Body = RequestBody.FromBytes(_buffer.AsMemory(0, _bufferCount), TransferHeaders.OffsetOctetStream),
            AttemptTimeout = timeout,
            Deadline = timeout + Runtime.Requests.CallDeadline,
        }, Answered(OnPatched), error => OnCallFailed(error, Step.Patch));
    }

    /// <summary>Any failure is followed by HEAD: the server's offset is the truth, whatever the failed request did.</summary>
    protected override void OnRetry()
    {
        if (_uploadUrl is null) SendCreate();
        else SendHead();
    }

    // ---- answers ------------------------------------------------------------------------------------------------

    /// <summary>A continuation that disposes the answer after <paramref name="handle"/> read its headers.</summary>
    private static Action<HttpResponseMessage> Answered(Action<HttpResponseMessage> handle) => response =>
    {
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
        var (statePath, state, log, id) = (StatePath, new UploadState(_request.Target.AbsoluteUri, _uploadUrl.AbsoluteUri, _length, _written), Runtime.Requests.Log, Id);
        RunIo("Saving the upload URL", async ct =>
        {
            try
            {
                await TransferState.SaveAsync(statePath, state, ct).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // A read-only source folder: the upload still runs, it just cannot be resumed by another process.
                log.Warning("Transfer {0}: the tus state '{1}' cannot be written ({2}); the upload will not be resumable across processes.", id, statePath, ex.Message);
            }
            return statePath;
        }, _ =>
        {
            Acknowledged(0);
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
        _bufferMayBeInUse = false; // a 2xx: the server read the whole body
        var offset = TransferHeaders.TusOffset(response);
        if (offset is null)
        {
            Fail(Protocol($"PATCH was answered {(int)response.StatusCode} without a valid Upload-Offset"));
            return;
        }
        var end = _bufferStart + _bufferCount;
        if (offset < _bufferStart || offset > end)
        {
            Fail(Integrity(end, offset.Value, $"the server acknowledged offset {offset} after a PATCH of {_bufferCount} bytes at {_bufferStart}"));
            return;
        }
        Acknowledged(offset.Value);
        Next();
    }

    /// <summary>The server holds bytes [0, offset): hash what the chunk buffer can account for, report, reset the retry count.</summary>
    private void Acknowledged(long offset)
    {
        if (!_hashBroken && offset != _hashed)
        {
            if (offset > _hashed && _bufferCount > 0 && _bufferStart <= _hashed && offset <= _bufferStart + _bufferCount)
            {
                _hash.AppendData(_buffer!, (int)(_hashed - _bufferStart), (int)(offset - _hashed));
                _hashed = offset;
            }
            else
            {
                _hashBroken = true; // hash the file again at the end
            }
        }
        if (offset > _offset) MadeProgress();
        _offset = offset;
        ReportProgress(offset, offset, _length);
    }

    private void Next()
    {
        if (_offset < _length)
        {
            ReadChunk();
            return;
        }
        var (path, statePath, length, bufferSize) = (_request.SourcePath, StatePath, _length, Runtime.ReadBufferSize);
        string? sha = _hashBroken ? null : Convert.ToHexStringLower(_hash.GetHashAndReset());
        RunIo("Finishing", async ct =>
        {
            TransferState.Delete(statePath);
            return sha ?? await TransferFiles.Sha256Async(path, length, bufferSize, ct).ConfigureAwait(false);
        }, hashed =>
        {
            ReportProgress(_length, _length, _length, final: true);
            Complete(_request.SourcePath, _length, hashed, _uploadUrl);
        }, OnIoError);
    }

    // ---- failures -----------------------------------------------------------------------------------------------

    private void OnCallFailed(Exception error, Step step)
    {
        var gone = IsStatus(error, HttpStatusCode.NotFound) || IsStatus(error, HttpStatusCode.Gone) || IsStatus(error, HttpStatusCode.Forbidden);
        if (step != Step.Create && gone && !_recreated)
        {
            // The server forgot the upload (expired, or a stale state file): create it anew, once.
            _recreated = true;
            _uploadUrl = null;
            _hashed = 0;
            _hash.GetHashAndReset();
            _hashBroken = false;
            _bufferCount = 0;
            SendCreate();
            return;
        }
        if (step == Step.Patch && IsStatus(error, HttpStatusCode.Conflict))
        {
            RetryOrFail(Describe(error, What), "offset mismatch (409): asking the server for its offset", _offset);
            return;
        }
        if (IsTransient(error))
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
        _hash.Dispose();
        if (_buffer is not null && !_bufferMayBeInUse) ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
    }

    // ---- private protocol ---------------------------------------------------------------------------------------

    private sealed record Prepared(TransferFiles.Source Source, UploadState? State, SafeFileHandle Handle);

    private sealed record ChunkRead(long Offset, int Count);

}
