using System.Buffers;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Akka.Actor;
using Courier.Diagnostics;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// Runs one download: the response body is streamed into <c>&lt;destination&gt;.part</c> one chunk at a time through a
/// pooled buffer; a dropped connection resumes with <c>Range</c>/<c>If-Range</c>; the length (and, when there is one, the
/// digest) is checked; then the <c>.part</c> becomes the destination in one rename.
/// </summary>
/// <remarks>
/// The states (see <see cref="TransferActor"/>): Preparing (check the destination, open a kept .part) → Requesting
/// (GET, with <c>Range</c>/<c>If-Range</c> when resuming) → Opening (folder mode: the answer names the file) → Opening
/// the body (truncate the .part, save the state) → Streaming (one operation copies the body to its end and reports
/// every chunk; meanwhile the actor hears the reports, cancellation and the stall watch) → Finishing (verify, rename) —
/// with WaitingToRetry after a failure that may pass. The file is the bytes the server sent: a download asks for
/// <c>Accept-Encoding: identity</c> through a client that does not decompress, and a server that compresses anyway
/// (<c>Content-Encoding: gzip</c>) gets its encoded bytes written as they are (as <c>curl -o</c> without
/// <c>--compressed</c>), with the <c>Content-Length</c>, the ranges and any digest all about those bytes. Resume needs a
/// strong validator (<see cref="PartialFile.StrongValidator"/>) and a known length: a length-less body restarts from zero
/// instead, and so does a body a handler below the runtime decoded (<see cref="TransferHeaders.MayBeDecoded"/>), whose
/// offsets no range can ask for; a 206 is appended only under the same strong validator as the bytes already in the .part.
/// <para>
/// Hashing: SHA-256 is computed only when there is something to check or report (<see cref="Verifying"/>): the caller's
/// <see cref="DownloadRequest.ExpectedSha256"/>, a <c>Repr-Digest</c>/<c>Content-Digest</c> from the server (on the answer,
/// or recorded in the <c>.part.json</c> of an earlier run), or <see cref="DownloadRequest.ComputeSha256"/>. It runs beside
/// the write of the next block (a block is hashed only once it is written), so it is not added to the time of each block.
/// The hash always covers exactly the bytes in the <c>.part</c>; when it cannot (a resume from bytes an earlier process
/// kept, a digest first announced by a 206, a failure between a write and its hash) it is dropped, and a download that must
/// verify reads the <c>.part</c> back once before it appends (or, when it is already whole, before the rename).
/// </para>
/// </remarks>
internal sealed class DownloadActor : TransferActor
{
    private readonly DownloadRequest _request;

    protected override System.Diagnostics.ActivityContext TraceParent => _request.TraceParent;
    private readonly byte[]? _expectedByCaller;
    private readonly ByteCounter _pumped = new();
    private string? _path;                  // the final path; in folder mode known after the first answer
    private string? _namedPath;             // the path the server's name asked for (_path may be a numbered alternative)
    private FileStream? _file;
    private IncrementalHash? _hash;         // SHA-256 of exactly the bytes in the .part, or null (not verifying, or to be rehashed)
    private readonly ByteCounter _hashed = new(); // the bytes _hash covers (written by the pump and the rehash)
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
    private bool _validatorChanged;         // a 206 of another version once: started over
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

    private string? PartPath => _path is null ? null : PartialFile.PartOf(_path);

    /// <summary>Whether this download computes the SHA-256: there is a digest to check, or the caller asked for it.</summary>
    private bool Verifying => _expectedByCaller is not null || _declared is not null || _request.ComputeSha256;

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
        RunIo("Preparing", ct => PrepareAsync(request, ct), OnPrepared, OnIoError, abandon: Adopt);
    }

    private static async Task<PartialFile.Opened?> PrepareAsync(DownloadRequest request, CancellationToken cancellationToken)
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
        return await PartialFile.OpenAsync(destination, request.Source, freeName: false, cancellationToken).ConfigureAwait(false);
    }

    private void OnPrepared(PartialFile.Opened? opened)
    {
        if (opened is null) SendGet(); // folder mode: the answer names the file
        else OnOpened(opened);
    }

    // ---- requests -----------------------------------------------------------------------------------------------

    private void SendGet()
    {
        _rangeEnd = null;
        var call = _offset > 0 && _resumable && !_noRanges && _state is not null
            ? NewCall(HttpMethod.Get, _request.Source, _request.Headers, _request.Anonymous,
                new("Range", $"bytes={_offset}-"), new("If-Range", _state.Validator))
            : NewCall(HttpMethod.Get, _request.Source, _request.Headers, _request.Anonymous);
        Send(call with { Completion = HttpCompletionOption.ResponseHeadersRead }, OnResponse, OnCallFailed);
    }

    protected override void OnRetry() => SendGet();

    private void OnResponse(HttpResponseMessage response)
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
            var (source, freeName) = (_request.Source, !_request.Overwrite);
            RunIo("Opening", ct => PartialFile.OpenAsync(path, source, freeName, ct), OnOpened, OnIoError, abandon: Adopt);
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
            if (!PartialFile.CanCombine(_state, response))
            {
                // Another version (a server that ignores If-Range), or a validator too weak to prove it is the same one:
                // these bytes must not be spliced onto the .part (RFC 9110 §15.3.7.3). Start over with the whole body, once.
                response.Dispose();
                if (_validatorChanged)
                {
                    Fail(new TransferException(TransferFailure.ProtocolViolation,
                        $"{What}: the server answered a resume twice with a 206 of another version of the file (it ignores If-Range)."));
                    return;
                }
                _validatorChanged = true;
                _resumable = false;
                SendGet();
                return;
            }
            if (range.Length is { } announced && _total is { } known && announced != known)
            {
                response.Dispose();
                _removePart = true;
                Fail(Integrity(TransferFailure.LengthMismatch, known.ToString(), announced.ToString(),
                    $"the server's Content-Range ({range}) announces {announced} bytes, but the file has {known}; the partial file was removed"));
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
            // The bytes read are the bytes sent, in whatever coding the server chose: the length and the ranges count them.
            // A body a handler below the runtime decoded has no length (the handler drops it) and no digest that fits it.
            var decoded = TransferHeaders.MayBeDecoded(response, TransferHeaders.AcceptEncodingFor(_request.Headers));
            _total = headers.ContentLength;
            _declared = decoded ? null : TransferHeaders.DeclaredSha256(response, fullBody: true);
            var validator = PartialFile.StrongValidator(response);
            var acceptsRanges = !response.Headers.AcceptRanges.Contains("none");
            _resumable = _total is not null && validator is not null && acceptsRanges;
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
            _offset = 0;
            DropHash();
        }
        // Hash only when there is something to verify or report; a hash that must cover bytes already in the .part but
        // does not (kept by an earlier run, or the digest came only now) is filled from the .part before the body is read.
        IncrementalHash? rehash = null;
        if (!Verifying) DropHash();
        else if (_hash is null || _hashed.Value != _offset)
        {
            DropHash();
            _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            if (_offset > 0) rehash = _hash;
        }
        _response = response;
        var (file, path, restart, prefix, hashed, bufferSize) = (_file!, _path!, status == 200, _offset, _hashed, Runtime.ReadBufferSize);
        RunIo("Opening the body", ct => BeginBodyAsync(file, truncate, path, restart, newState, rehash, prefix, hashed, bufferSize, response, ct), OnBody, OnIoError,
            abandon: body => _body = body);
    }

    private static async Task<Stream> BeginBodyAsync(FileStream file, bool truncate, string path, bool restart, DownloadState? state,
        IncrementalHash? rehash, long prefix, ByteCounter hashed, int bufferSize, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        if (restart) await PartialFile.RestartAsync(file, truncate, path, state, cancellationToken).ConfigureAwait(false);
        if (rehash is not null)
        {
            await PartialFile.HashPrefixOfPartAsync(path, prefix, rehash, bufferSize, cancellationToken).ConfigureAwait(false);
            hashed.Add(prefix);
        }
        return await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets the hash (nothing to verify, or it no longer covers exactly the bytes in the .part).</summary>
    private void DropHash()
    {
        _hash?.Dispose();
        _hash = null;
        _hashed.Reset();
    }

    private void OnBody(Stream body)
    {
        _body = body;
        Pump();
    }

    // ---- the body, chunk by chunk ------------------------------------------------------------------------------

    private void Pump()
    {
        // Three read buffers in one pooled array: while one block is written, the next is read from the network and (when
        // verifying) the one written before is hashed.
        _buffer ??= ArrayPool<byte>.Shared.Rent(PumpSlots * Runtime.ReadBufferSize);
        // The most this body may still carry: past it the .part is corrupt, and the pump stops at the block that crossed it.
        var end = Math.Min(_rangeEnd ?? long.MaxValue, _total ?? long.MaxValue);
        var limit = end == long.MaxValue ? long.MaxValue : end - _offset;
        var (body, file, hash, buffer, size, chunk, counter, hashed) = (_body!, _file!, _hash, _buffer, Runtime.ReadBufferSize, Runtime.ChunkSize, _pumped, _hashed);
        counter.Reset();
        RunIoWithProgress("Streaming", (ct, report) => PumpAsync(body, file, hash, buffer, size, chunk, limit, counter, hashed, report, ct),
            OnStreamed, OnIoError, watchStall: true);
    }

    private const int PumpSlots = 3;

    /// <summary>
    /// Copies the body into the file, to its end, in one operation: every <paramref name="chunk"/> bytes it tells the
    /// actor through <paramref name="report"/> (progress, the length checks) without waiting for it, so the socket is
    /// read without a pause between chunks; cancellation (the caller's, the stall watch's, an end the actor decided on
    /// a report) stops it within one block. It stops early only after a block that took the body past
    /// <paramref name="limit"/> bytes: those bytes are never a success, and are not written on. It returns the bytes
    /// not reported yet. The read of block k+1 from the network overlaps the write of block k, and with a
    /// <paramref name="hash"/>, its hash. The write is synchronous, on the thread that read the block: on Linux an
    /// asynchronous <see cref="FileStream"/> write is the same <c>pwrite</c> done on another thread-pool thread, and
    /// the hop cost a thread-pool wake-up per block (about one <c>sched_yield</c> and a futex per 80 KiB read under
    /// <c>strace</c>) for a copy into the page cache that takes microseconds (bench/RESULTS.md: 10 to 30 % less CPU per
    /// GiB). This runs on the thread pool, never inside an actor's receive. A block is hashed only once it is written
    /// (a write that failed half-way is never in the digest), and the read ahead is always awaited before returning, so
    /// when this fails or ends the file position is exactly the bytes written (a good resume offset) and
    /// <paramref name="hashed"/> says how many of them the hash covers.
    /// </summary>
    private static async Task<long> PumpAsync(Stream body, FileStream file, IncrementalHash? hash, byte[] buffer, int size, int chunk,
        long limit, ByteCounter counter, ByteCounter hashed, Action<long> report, CancellationToken cancellationToken)
    {
        var slot = 0;
        long copied = 0;
        long reported = 0;
        var read = await body.ReadAsync(buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
        while (read > 0)
        {
            var current = buffer.AsMemory(slot * size, read);
            copied += read;
            var more = copied <= limit;
            var nextSlot = (slot + 1) % PumpSlots;
            var next = more ? body.ReadAsync(buffer.AsMemory(nextSlot * size, size), cancellationToken) : ValueTask.FromResult(0);
            try
            {
                cancellationToken.ThrowIfCancellationRequested();
                file.Write(current.Span);
            }
            catch (Exception ex)
            {
                // Whatever stopped the write (an I/O error, a cancel), the read ahead is awaited before the buffer goes back.
                await Drain(next).ConfigureAwait(false);
                if (ex is IOException or UnauthorizedAccessException)
                    throw new LocalIoException($"writing '{file.Name}' failed: {ex.Message}", ex);
                throw;
            }
            counter.Add(read);
            if (hash is not null)
            {
                hash.AppendData(current.Span);
                hashed.Add(read);
            }
            if (!more) return copied - reported;
            if (copied - reported >= chunk)
            {
                report(copied - reported);
                reported = copied;
            }
            read = await next.ConfigureAwait(false);
            slot = nextSlot;
        }
        return copied - reported;
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

    private void OnOpened(PartialFile.Opened opened)
    {
        _path = opened.Path;
        _namedPath = opened.NamedPath;
        _file = opened.File;
        DropHash(); // the kept bytes are hashed only if this download turns out to verify (see Accept)
        _offset = opened.Offset;
        _state = opened.State;
        _resumable = opened.State is not null;
        _total = opened.State?.Length;
        _declared = opened.State?.Sha256 is { } hex ? Convert.FromHexString(hex) : null;
        Meter.Restart(Now, _offset); // bytes already on disk are not speed
        if (_offset > 0) Context.System.EventStream.Publish(new TransferResumed(Id, Direction, PartPath!, _offset));
        if (_response is { } first)
        {
            _response = null;
            // Folder mode: an earlier process left a .part of the same file: ask for the rest instead of the whole.
            if (_offset > 0 && first.StatusCode == System.Net.HttpStatusCode.OK && PartialFile.CanCombine(_state, first))
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

    /// <summary>A chunk of the body is in the .part (the pump goes on meanwhile).</summary>
    protected override void OnIoProgress(long bytes)
    {
        if (Advance(bytes)) ReportProgress(_offset, _offset, _total);
    }

    /// <summary>The pump ended: the body ended, or it went past what was announced (<paramref name="rest"/>: bytes not reported yet).</summary>
    private void OnStreamed(long rest)
    {
        if (!Advance(rest)) return;
        ReportProgress(_offset, _offset, _total);
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
        Finish();
    }

    /// <summary>
    /// Counts <paramref name="bytes"/> more in the .part; false (and the transfer fails) when that is past what the server
    /// announced. Checked on every report, not only at the end: bytes past what was announced are never a success, and a
    /// long body must not be written on for long. The .part is corrupt from the announced end on: it goes.
    /// </summary>
    private bool Advance(long bytes)
    {
        _offset += bytes;
        if (bytes > 0) MadeProgress();
        if (_rangeEnd is { } rangeEnd && _offset > rangeEnd)
        {
            _removePart = true;
            Fail(Integrity(TransferFailure.LengthMismatch, rangeEnd.ToString(), _offset.ToString(),
                $"the server's 206 carried more bytes than its Content-Range (byte {_offset} reached, the range ends at {rangeEnd}); the partial file was removed"));
            return false;
        }
        if (_total is { } expected && _offset > expected)
        {
            _removePart = true;
            Fail(Integrity(TransferFailure.LengthMismatch, expected.ToString(), _offset.ToString(), $"the server sent {_offset} bytes but announced {expected}"));
            return false;
        }
        return true;
    }

    private void Finish()
    {
        // A hash that does not cover the whole .part is not used: CommitAsync then reads the .part back (when verifying).
        if (_hash is not null && _hashed.Value != _offset) DropHash();
        var (file, hash, verify, path, named, freeName, caller, declared, bufferSize) =
            (_file!, _hash, Verifying, _path!, _namedPath!, _request.DestinationIsFolder && !_request.Overwrite, _expectedByCaller, _declared, Runtime.ReadBufferSize);
        _file = null; // the operation closes it
        RunIo("Finishing", ct => PartialFile.CommitAsync(file, hash, verify, path, named, freeName, caller, declared, bufferSize, ct), OnFinished, OnIoError,
            abandon: outcome =>
            {
                // A cancel heard while the file was renamed: it is complete and in place, and that is what is reported.
                if (outcome is not PartialFile.Committed committed) return;
                ReportProgress(_offset, _offset, _total ?? _offset, final: true);
                CompletedWhileEnding(committed.Path, _offset, committed.Sha256);
            });
    }

    private void OnFinished(PartialFile.Outcome outcome)
    {
        switch (outcome)
        {
            case PartialFile.Committed committed:
                ReportProgress(_offset, _offset, _total ?? _offset, final: true);
                Complete(committed.Path, _offset, committed.Sha256);
                break;
            case PartialFile.DigestMismatch mismatch:
                _removePart = true;
                Fail(Integrity(TransferFailure.DigestMismatch, mismatch.Expected, mismatch.Actual,
                    $"the SHA-256 of the received file is {mismatch.Actual}, but {mismatch.Source} is {mismatch.Expected}; the partial file was removed"));
                break;
        }
    }

    // ---- failures -----------------------------------------------------------------------------------------------

    private void OnIoError(Exception error)
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
        if (_hash is not null && _hashed.Value != _offset) DropHash(); // rehashed from the .part if the resume verifies
        CloseResponse();
        if (!IsTransient(error))
        {
            Fail(Describe(error, What));
            return;
        }
        RetryOrFail(new TransferException(TransferFailure.Http, $"{What} failed at byte {_offset}: {error.Message}", error), error.Message, _offset);
    }

    private void OnCallFailed(Exception error)
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

    /// <summary>A .part opened after the transfer started ending: kept so that <see cref="ReleaseAsync"/> closes it.</summary>
    private void Adopt(PartialFile.Opened? opened)
    {
        if (opened is null) return;
        _path ??= opened.Path;
        if (_file is null)
        {
            _file = opened.File;
            return;
        }
        opened.File.Dispose();
    }

    protected override Task ReleaseAsync(TransferResult result)
    {
        CloseResponse();
        ReturnBuffer();
        _hash?.Dispose();
        // An empty .part is nothing to resume from (the server refused at once): it goes, with its state.
        if (result is not TransferCompleted && (_request.DeletePartialOnFailure || _offset == 0)) _removePart = true;
        var (file, path, remove) = (_file, _path, _removePart);
        _file = null;
        return PartialFile.ReleaseAsync(file, path, remove);
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

}
