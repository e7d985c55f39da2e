using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Courier.Transfers;

/// <summary>
/// A file, or one segment of it, as request content: streamed from disk through one pooled buffer straight into the
/// request stream (never held whole, no copy per chunk), optionally hashed on the way, with the bytes sent counted for
/// progress. The length is fixed when the transfer starts: a file that shrinks while it is being sent (or, when the
/// content ends at the file's end, grows) fails the request with a <see cref="TransferSourceException"/> instead of
/// sending something else.
/// </summary>
internal sealed class FileUploadContent : HttpContent
{
    private readonly string _path;
    private readonly SafeFileHandle? _handle;
    private readonly long _offset;
    private readonly long _length;
    private readonly bool _checkEnd;
    private readonly int _bufferSize;
    private readonly bool _computeSha256;
    private readonly ByteCounter _sent;
    private int _completed;

    /// <summary>The whole file of <paramref name="length"/> bytes.</summary>
    public FileUploadContent(string path, long length, int bufferSize, ByteCounter sent, bool computeSha256)
        : this(path, null, 0, length, checkEnd: true, bufferSize, sent, computeSha256)
    {
    }

    /// <summary>
    /// The <paramref name="length"/> bytes of <paramref name="path"/> from <paramref name="offset"/>, read through
    /// <paramref name="handle"/> when given (positional reads: one handle serves every attempt), else through a stream
    /// opened per attempt; with <paramref name="checkEnd"/> they must be the last ones of the file.
    /// </summary>
    public FileUploadContent(string path, SafeFileHandle? handle, long offset, long length, bool checkEnd, int bufferSize, ByteCounter sent, bool computeSha256)
    {
        _path = path;
        _handle = handle;
        _offset = offset;
        _length = length;
        _checkEnd = checkEnd;
        _bufferSize = bufferSize;
        _sent = sent;
        _computeSha256 = computeSha256;
    }

    /// <summary>Whether every byte of the content has been written to the request stream.</summary>
    public bool Completed => Volatile.Read(ref _completed) == 1;

    /// <summary>With hashing asked for: the SHA-256 of the bytes sent, once they have all been sent; null before (and without).</summary>
    public byte[]? Sha256 { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _sent.Reset();
        using var hash = _computeSha256 ? IncrementalHash.CreateHash(HashAlgorithmName.SHA256) : null;
        var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(_bufferSize, Math.Max(1, _length + 1)));
        try
        {
            await using var file = _handle is null ? TransferFiles.OpenSource(_path, _bufferSize) : null;
            if (file is not null && _offset > 0) file.Position = _offset;
            long sent = 0;
            while (true)
            {
                // At the file's end, ask for one byte more: a file that grew is caught instead of silently cut.
                var want = (int)Math.Min(buffer.Length, _length - sent + (_checkEnd ? 1 : 0));
                if (want == 0) break;
                var read = await ReadAsync(file, buffer.AsMemory(0, want), _offset + sent, cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                if (sent + read > _length) throw Changed("grew");
                hash?.AppendData(buffer, 0, read);
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                sent += read;
                _sent.Add(read);
            }
            if (sent != _length) throw Changed("shrank");
            Sha256 = hash?.GetHashAndReset();
            Volatile.Write(ref _completed, 1);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private async ValueTask<int> ReadAsync(FileStream? file, Memory<byte> into, long position, CancellationToken cancellationToken)
    {
        try
        {
            return file is not null
                ? await file.ReadAsync(into, cancellationToken).ConfigureAwait(false)
                : await RandomAccess.ReadAsync(_handle!, into, position, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TransferSourceException(TransferFailure.SourceUnreadable, _path, $"Reading the upload source '{_path}' failed: {ex.Message}", ex);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    private TransferSourceException Changed(string how) =>
        new(TransferFailure.SourceUnreadable, _path, $"The upload source '{_path}' {how} while it was being sent (it had {_offset + _length} bytes or more when the transfer started).");
}
