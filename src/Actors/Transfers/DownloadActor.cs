using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Akka.Actor;
using Courier.Diagnostics;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// Runs one download: the response body is streamed into <c>&lt;destination&gt;.part</c> one chunk at a time through a
/// pooled buffer, hashed on the way; a dropped connection resumes with <c>Range</c>/<c>If-Range</c>; the length and digest are
/// checked; then the <c>.part</c> becomes the destination in one rename.
/// </summary>
/// <remarks>
/// The loop is "send → headers → (open/truncate the .part) → pump one chunk → message → pump the next". Between two chunks
/// the actor sees cancellation, timers and retries. Resume needs a validator (strong ETag, else Last-Modified) and an
/// identity-encoded body with a known length: a compressed or length-less body restarts from zero instead, because its
/// byte offsets cannot be trusted.
/// </remarks>
internal sealed class DownloadActor : TransferActor
{
    private readonly DownloadRequest _request;

    protected override System.Diagnostics.ActivityContext TraceParent => _request.TraceParent;
    private readonly byte[]? _expectedByCaller;
    private readonly ByteCounter _pumped = new();
    private string? _path;                  // the final path; in folder mode known after the first answer
    private FileStream? _file;
    private IncrementalHash? _hash;         // SHA-256 of exactly the bytes in the .part
    private long _offset;                   // bytes in the .part
    private DownloadState? _state;          // what proves the bytes in the .part belong to the server's current file
    private long? _total;
    private byte[]? _declared;              // the digest the server declared for the whole file
    private long? _rangeEnd;                // end (exclusive) of the range the current 206 covers
    private HttpResponseMessage? _response;
    private Stream? _body;
    private byte[]? _buffer;
    private bool _resumable;
    private bool _noRanges;                 // a range answer did not match: ask for whole bodies from now on
    private bool _rangeRefused;             // a 416 once: started over
    private bool _removePart;               // the .part must not survive (corrupt, or the caller asked)

    private DownloadActor(DownloadRequest request, TransferRuntime runtime)
        : base(request.Id, TransferDirection.Download, runtime, request.Progress, request.ToString())
    {
        _request = request;
        try
        {
            _expectedByCaller = request.ExpectedSha256 is null ? null : TransferHeaders.ParseHexSha256(request.ExpectedSha256);
        }
        catch (ArgumentException)
        {
            _expectedByCaller = [];
        }
    }

    public static Props Props(DownloadRequest request, TransferRuntime runtime) =>
        Internal.FactoryProducer<DownloadActor>.Props(() => new DownloadActor(request, runtime));

    private string What => $"Downloading {SafeUrl.Format(_request.Source)} to '{_path ?? _request.Destination}'";

    private string? PartPath => _path is null ? null : _path + ".part";

    private string? StatePath => _path is null ? null : _path + ".part.json";

    protected override string? PartialPath => _removePart || _path is null ? null : PartPath;

    protected override long Activity => _pumped.Value;

    // ---- start --------------------------------------------------------------------------------------------------

    protected override void Start()
    {
        if (_expectedByCaller is { Length: 0 })
        {
            Fail(new TransferException(TransferFailure.InvalidRequest, $"{What}: the expected SHA-256 '{_request.ExpectedSha256}' is not 64 hex characters."));
            return;
        }
        var request = _request;
        var bufferSize = Runtime.ReadBufferSize;
        RunIo(ct => PrepareAsync(request, bufferSize, ct));
    }

    private static async Task<object?> PrepareAsync(DownloadRequest request, int bufferSize, CancellationToken cancellationToken)
    {
        var destination = Path.GetFullPath(request.Destination);
        if (request.DestinationIsFolder)
        {
            if (!Directory.Exists(destination))
                throw new TransferDestinationException(TransferFailure.DestinationFolderMissing, request.Destination, $"The download folder '{request.Destination}' does not exist.");
            return null; // the name comes with the first answer
        }
        if (Directory.Exists(destination))
            throw new TransferDestinationException(TransferFailure.InvalidRequest, request.Destination,
                $"The download destination '{request.Destination}' is a folder: use DownloadRequest.ToFolder to download into it.");
        var folder = Path.GetDirectoryName(destination);
        if (folder is null || !Directory.Exists(folder))
            throw new TransferDestinationException(TransferFailure.DestinationFolderMissing, request.Destination, $"The folder of the download destination '{request.Destination}' does not exist.");
        return await OpenPartAsync(destination, request.Source, bufferSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens (or creates) the .part; keeps its bytes only when the state beside it proves where they came from.</summary>
    private static async Task<object?> OpenPartAsync(string destination, Uri source, int bufferSize, CancellationToken cancellationToken)
    {
        var part = destination + ".part";
        var state = await TransferState.LoadAsync<DownloadState>(part + ".json", cancellationToken).ConfigureAwait(false);
        FileStream file;
        try
        {
            file = new FileStream(part, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                Share = FileShare.Read,
                Options = FileOptions.Asynchronous,
                BufferSize = 0,
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{part}' cannot be opened for writing: {ex.Message}", ex);
        }
        var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            var offset = file.Length;
            if (state is null || state.Url != source.AbsoluteUri || state.Length is { } length && offset > length)
            {
                offset = 0;
                state = null;
                file.SetLength(0);
            }
            else
            {
                await TransferFiles.HashPrefixAsync(part, offset, hash, bufferSize, cancellationToken).ConfigureAwait(false);
            }
            file.Position = offset;
            return new Opened(destination, file, hash, offset, state);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            hash.Dispose();
            throw;
        }
    }

    // ---- requests -----------------------------------------------------------------------------------------------

    private void SendGet()
    {
        _rangeEnd = null;
        var call = _offset > 0 && _resumable && !_noRanges && _state is not null
            ? NewCall(HttpMethod.Get, _request.Source, _request.Headers, _request.Anonymous,
                new("Range", $"bytes={_offset}-"), new("If-Range", _state.Validator))
            : NewCall(HttpMethod.Get, _request.Source, _request.Headers, _request.Anonymous);
        Send(call with { Completion = HttpCompletionOption.ResponseHeadersRead });
    }

    protected override void OnRetry() => SendGet();

    protected override void OnResponse(HttpResponseMessage response)
    {
        if (_path is null)
        {
            // Folder mode: the answer names the file. Open its .part (maybe left by an earlier process) before using the body.
            var name = SafeFileName.Sanitize(SafeFileName.FromContentDisposition(response.Content.Headers.ContentDisposition) ?? SafeFileName.FromUrl(_request.Source));
            string path;
            try
            {
                path = SafeFileName.ResolveInside(_request.Destination, name);
            }
            catch (TransferDestinationException error)
            {
                response.Dispose();
                Fail(error);
                return;
            }
            _response = response;
            var (source, bufferSize) = (_request.Source, Runtime.ReadBufferSize);
            RunIo(ct => OpenPartAsync(path, source, bufferSize, ct));
            return;
        }
        Accept(response);
    }

    private void Accept(HttpResponseMessage response)
    {
        var status = (int)response.StatusCode;
        var headers = response.Content.Headers;
        bool truncate;
        DownloadState? newState = null;
        if (status == 206)
        {
            var range = headers.ContentRange;
            if (_offset == 0 || range is not { HasRange: true, From: { } from } || from != _offset || !string.Equals(range.Unit, "bytes", StringComparison.OrdinalIgnoreCase))
            {
                response.Dispose();
                if (_noRanges)
                {
                    Fail(new TransferException(TransferFailure.ProtocolViolation, $"{What}: the server answered 206 with Content-Range '{range}' although no range was asked for."));
                    return;
                }
                // Not the bytes we asked for: trust nothing partial from this server, start over with whole bodies.
                _noRanges = true;
                SendGet();
                return;
            }
            if (range.To is { } to && headers.ContentLength is { } length && to - from + 1 != length)
            {
                response.Dispose();
                Fail(Integrity(TransferFailure.LengthMismatch, (to - from + 1).ToString(), length.ToString(),
                    $"the server's Content-Range ({range}) and Content-Length ({length}) disagree"));
                return;
            }
            _rangeEnd = range.To + 1;
            if (range.Length is { } total) _total = total;
            if (TransferHeaders.DeclaredSha256(response, fullBody: false) is { } declared) _declared = declared;
            truncate = false;
        }
        else if (status == 200)
        {
            // A whole body: the first answer, or the file changed (If-Range failed), or the server ignores ranges.
            truncate = _offset > 0;
            var identity = headers.ContentEncoding.Count == 0 && headers.ContentLength is not null;
            _total = identity ? headers.ContentLength : null; // a decompressed body has no trustworthy length: unknown, not wrong
            _declared = TransferHeaders.DeclaredSha256(response, fullBody: true);
            var validator = TransferHeaders.Validator(response);
            var acceptsRanges = !response.Headers.AcceptRanges.Contains("none");
            _resumable = identity && validator is not null && acceptsRanges;
            newState = _resumable ? new DownloadState(_request.Source.AbsoluteUri, validator!, _total, _declared is null ? null : Convert.ToHexStringLower(_declared)) : null;
            _state = newState;
        }
        else
        {
            response.Dispose();
            Fail(new TransferException(TransferFailure.ProtocolViolation, $"{What}: the server answered {status}; a download expects 200 or 206."));
            return;
        }

        if (truncate)
        {
            // The hash and the offset follow the file: reset them here, before the operation truncates it.
            _hash!.GetHashAndReset();
            _offset = 0;
        }
        _response = response;
        var (file, statePath, saveState) = (_file!, StatePath!, status == 200);
        RunIo(ct => BeginBodyAsync(file, truncate, statePath, saveState, newState, response, ct));
    }

    private static async Task<object?> BeginBodyAsync(FileStream file, bool truncate, string statePath, bool saveState, DownloadState? state,
        HttpResponseMessage response, CancellationToken cancellationToken)
    {
        try
        {
            if (truncate)
            {
                file.SetLength(0);
                file.Position = 0;
            }
            if (saveState)
            {
                if (state is null) TransferState.Delete(statePath);
                else await TransferState.SaveAsync(statePath, state, cancellationToken).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{file.Name}' cannot be prepared: {ex.Message}", ex);
        }
        return new BodyReady(await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false));
    }

    // ---- the body, chunk by chunk ------------------------------------------------------------------------------

    private void Pump()
    {
        // Two read buffers in one pooled array: the next network read runs while the previous block is written and hashed.
        _buffer ??= ArrayPool<byte>.Shared.Rent(2 * Runtime.ReadBufferSize);
        var (body, file, hash, buffer, size, chunk, counter) = (_body!, _file!, _hash!, _buffer, Runtime.ReadBufferSize, Runtime.ChunkSize, _pumped);
        counter.Reset();
        RunIo(ct => PumpAsync(body, file, hash, buffer, size, chunk, counter, ct), watchStall: true);
    }

    /// <summary>
    /// Copies up to one chunk from the body into the file, overlapping the next read from the network with the write of the
    /// block before it (async file I/O), then hashing it. A block is counted only once it is written and hashed,
    /// and the read ahead is always awaited before returning, so when this fails or ends the file position is exactly the
    /// bytes written: always a good resume offset, with the hash covering exactly those bytes.
    /// </summary>
    private static async Task<object?> PumpAsync(Stream body, FileStream file, IncrementalHash hash, byte[] buffer, int size, int chunk,
        ByteCounter counter, CancellationToken cancellationToken)
    {
        var blocks = (Front: buffer.AsMemory(0, size), Back: buffer.AsMemory(size, size));
        var copied = 0;
        var read = await body.ReadAsync(blocks.Front, cancellationToken).ConfigureAwait(false);
        while (read > 0)
        {
            var current = blocks.Front[..read];
            copied += read;
            var more = copied < chunk;
            var next = more ? body.ReadAsync(blocks.Back, cancellationToken) : ValueTask.FromResult(0);
            try
            {
                await file.WriteAsync(current, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                // Whatever stopped the write (an I/O error, a cancel), the read ahead is awaited before the buffer goes back.
                await Drain(next).ConfigureAwait(false);
                if (ex is IOException or UnauthorizedAccessException)
                    throw new LocalIoException($"writing '{file.Name}' failed: {ex.Message}", ex);
                throw;
            }
            // Hashed only once written: a write that was cancelled half-way must not be in the digest.
            hash.AppendData(current.Span);
            counter.Add(read);
            if (!more) return new Chunk(copied, End: false);
            read = await next.ConfigureAwait(false);
            blocks = (blocks.Back, blocks.Front);
        }
        return new Chunk(copied, End: true);
    }

    /// <summary>Waits for a read ahead that is no longer wanted, so nothing touches the buffer afterwards.</summary>
    private static async Task Drain(ValueTask<int> read)
    {
        try
        {
            await read.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The write failure is what gets reported.
        }
    }

    protected override void OnIo(object? result)
    {
        switch (result)
        {
            case null: // folder mode prepared: ask
                SendGet();
                break;
            case Opened opened:
                OnOpened(opened);
                break;
            case BodyReady ready:
                _body = ready.Body;
                Pump();
                break;
            case Chunk chunk:
                OnChunk(chunk);
                break;
            case Finished finished:
                ReportProgress(_offset, _offset, _total ?? _offset, final: true);
                Complete(_path!, _offset, finished.Sha256);
                break;
            case DigestMismatch mismatch:
                _removePart = true;
                Fail(Integrity(TransferFailure.DigestMismatch, mismatch.Expected, mismatch.Actual,
                    $"the SHA-256 of the received file is {mismatch.Actual}, but {mismatch.Source} is {mismatch.Expected}; the partial file was removed"));
                break;
        }
    }

    private void OnOpened(Opened opened)
    {
        _path = opened.Path;
        _file = opened.File;
        _hash = opened.Hash;
        _offset = opened.Offset;
        _state = opened.State;
        _resumable = opened.State is not null;
        _total = opened.State?.Length;
        _declared = opened.State?.Sha256 is { } hex ? Convert.FromHexString(hex) : null;
        Meter.Restart(Now, _offset); // bytes already on disk are not speed
        if (_response is { } first)
        {
            _response = null;
            // Folder mode: an earlier process left a .part of the same file: ask for the rest instead of the whole.
            if (_offset > 0 && first.StatusCode == System.Net.HttpStatusCode.OK && TransferHeaders.Validator(first) == _state!.Validator)
            {
                first.Dispose();
                SendGet();
                return;
            }
            Accept(first);
            return;
        }
        SendGet();
    }

    private void OnChunk(Chunk chunk)
    {
        _offset += chunk.Bytes;
        if (chunk.Bytes > 0) MadeProgress();
        ReportProgress(_offset, _offset, _total);
        if (!chunk.End)
        {
            Pump();
            return;
        }
        CloseResponse();
        if (_total is { } total && _offset < total)
        {
            if (_rangeEnd == _offset)
            {
                SendGet(); // the server sent a shorter range than asked: ask for the rest
                return;
            }
            // A short body is never a success: resume from what we have.
            RetryOrFail(Integrity(TransferFailure.LengthMismatch, total.ToString(), _offset.ToString(), $"the body ended after {_offset} of {total} bytes"),
                "the body ended early", _offset);
            return;
        }
        if (_total is { } expected && _offset > expected)
        {
            _removePart = true;
            Fail(Integrity(TransferFailure.LengthMismatch, expected.ToString(), _offset.ToString(), $"the server sent {_offset} bytes but announced {expected}"));
            return;
        }
        Finish();
    }

    private void Finish()
    {
        var (file, hash, part, statePath, path, caller, declared) = (_file!, _hash!, PartPath!, StatePath!, _path!, _expectedByCaller, _declared);
        _file = null; // the operation closes it
        RunIo(ct => FinishAsync(file, hash, part, statePath, path, caller, declared, ct));
    }

    private static async Task<object?> FinishAsync(FileStream file, IncrementalHash hash, string part, string statePath, string path,
        byte[]? caller, byte[]? declared, CancellationToken cancellationToken)
    {
        try
        {
            await using (file) await file.FlushAsync(cancellationToken).ConfigureAwait(false);
            var digest = hash.GetHashAndReset();
            if (caller is not null && !digest.AsSpan().SequenceEqual(caller))
                return new DigestMismatch("the expected SHA-256", Convert.ToHexStringLower(caller), Convert.ToHexStringLower(digest));
            if (declared is not null && !digest.AsSpan().SequenceEqual(declared))
                return new DigestMismatch("the server's Repr-Digest/Content-Digest", Convert.ToHexStringLower(declared), Convert.ToHexStringLower(digest));
            File.Move(part, path, overwrite: true); // one rename: the destination is never a partial file
            TransferState.Delete(statePath);
            return new Finished(Convert.ToHexStringLower(digest));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{part}' cannot be moved to '{path}': {ex.Message}", ex);
        }
    }

    // ---- failures -----------------------------------------------------------------------------------------------

    protected override void OnIoError(Exception error)
    {
        switch (error)
        {
            case TransferException transfer:
                Fail(transfer);
                return;
            case LocalIoException local:
                Fail(new TransferException(TransferFailure.LocalIo, $"{What}: {local.Message}", local.InnerException));
                return;
        }
        // The body broke off or stalled. Whatever is in the .part is good: resume from its end.
        if (_file is not null) _offset = _file.Position;
        CloseResponse();
        if (!IsTransient(error))
        {
            Fail(Describe(error, What));
            return;
        }
        RetryOrFail(new TransferException(TransferFailure.Http, $"{What} failed at byte {_offset}: {error.Message}", error), error.Message, _offset);
    }

    protected override void OnCallFailed(Exception error)
    {
        if (IsStatus(error, System.Net.HttpStatusCode.RequestedRangeNotSatisfiable) && _offset > 0 && _offset == _state?.Length)
        {
            // The .part is already whole (a process stopped between the last byte and the rename). If-Range is evaluated
            // before Range, so the 416 also says the validator still holds: verify and rename.
            Finish();
            return;
        }
        if (IsStatus(error, System.Net.HttpStatusCode.RequestedRangeNotSatisfiable) && _offset > 0 && !_rangeRefused)
        {
            // The file shrank, or the .part is already whole: start over once with the whole body.
            _rangeRefused = true;
            _resumable = false;
            SendGet();
            return;
        }
        if (IsTransient(error))
        {
            RetryOrFail(Describe(error, What), error.Message, _offset);
            return;
        }
        Fail(Describe(error, What));
    }

    private TransferIntegrityException Integrity(TransferFailure failure, string expected, string actual, string detail) =>
        new(failure, expected, actual, $"{What}: {detail}.");

    // ---- release ------------------------------------------------------------------------------------------------

    protected override void Adopt(object? result)
    {
        switch (result)
        {
            case Opened opened:
                _path ??= opened.Path;
                if (_file is null)
                {
                    _file = opened.File;
                    _hash?.Dispose();
                    _hash = opened.Hash;
                }
                break;
            case BodyReady ready:
                _body = ready.Body;
                break;
        }
    }

    protected override Task ReleaseAsync(TransferResult result)
    {
        CloseResponse();
        ReturnBuffer();
        _hash?.Dispose();
        if (result is not TransferCompleted && _request.DeletePartialOnFailure) _removePart = true;
        var (file, part, statePath, remove) = (_file, PartPath, StatePath, _removePart);
        _file = null;
        return ReleaseFilesAsync(file, remove ? part : null, statePath);
    }

    private static async Task ReleaseFilesAsync(FileStream? file, string? removePart, string? statePath)
    {
        if (file is not null) await file.DisposeAsync().ConfigureAwait(false);
        if (removePart is null) return;
        TransferState.Delete(removePart);
        if (statePath is not null) TransferState.Delete(statePath);
    }

    protected override void ReleaseNow()
    {
        CloseResponse();
        _file?.Dispose();
        _hash?.Dispose();
    }

    private void CloseResponse()
    {
        _body?.Dispose();
        _response?.Dispose();
        _body = null;
        _response = null;
    }

    private void ReturnBuffer()
    {
        if (_buffer is null) return;
        ArrayPool<byte>.Shared.Return(_buffer);
        _buffer = null;
    }

    // ---- private protocol ---------------------------------------------------------------------------------------

    private sealed record Opened(string Path, FileStream File, IncrementalHash Hash, long Offset, DownloadState? State);

    private sealed record BodyReady(Stream Body);

    private sealed record Chunk(int Bytes, bool End);

    private sealed record Finished(string Sha256);

    private sealed record DigestMismatch(string Source, string Expected, string Actual);
}
