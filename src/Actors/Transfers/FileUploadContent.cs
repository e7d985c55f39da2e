using System.Buffers;
using System.Net;
using System.Security.Cryptography;

namespace Courier.Transfers;

/// <summary>
/// A file as request content, streamed from disk through one pooled buffer (never held whole), hashed on the way, with the
/// bytes sent counted for progress. The length is fixed when the transfer starts: a file that grows or shrinks while it is
/// being sent fails the request with a <see cref="TransferSourceException"/> instead of sending something else.
/// </summary>
internal sealed class FileUploadContent : HttpContent
{
    private readonly string _path;
    private readonly long _length;
    private readonly int _bufferSize;
    private readonly ByteCounter _sent;

    public FileUploadContent(string path, long length, int bufferSize, ByteCounter sent)
    {
        _path = path;
        _length = length;
        _bufferSize = bufferSize;
        _sent = sent;
    }

    /// <summary>The SHA-256 of the file, once it has been sent whole by this content; null before.</summary>
    public byte[]? Sha256 { get; private set; }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        _sent.Reset();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(_bufferSize);
        try
        {
            await using var file = TransferFiles.OpenSource(_path, _bufferSize);
            long sent = 0;
            while (true)
            {
                // Ask for one byte past the end: a file that grew is caught instead of silently cut.
                var want = (int)Math.Min(buffer.Length, _length - sent + 1);
                var read = await file.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                if (read == 0) break;
                if (sent + read > _length) throw Changed("grew");
                hash.AppendData(buffer, 0, read);
                await stream.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                sent += read;
                _sent.Add(read);
            }
            if (sent != _length) throw Changed("shrank");
            Sha256 = hash.GetHashAndReset();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = _length;
        return true;
    }

    private TransferSourceException Changed(string how) =>
        new(TransferFailure.SourceUnreadable, _path, $"The upload source '{_path}' {how} while it was being sent (it had {_length} bytes when the transfer started).");
}
