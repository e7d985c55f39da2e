using System.Buffers;
using System.Security.Cryptography;

namespace Courier.Transfers;

/// <summary>The local file work of transfers, as tasks that run off the actors: checks, opening, hashing.</summary>
internal static class TransferFiles
{
    /// <summary>What an upload learns about its source before it starts.</summary>
    public sealed record Source(long Length, DateTime WrittenUtc);

    /// <summary>Checks that <paramref name="path"/> is a readable file; throws a <see cref="TransferSourceException"/> naming what is wrong.</summary>
    public static Task<Source> InspectSourceAsync(string path) => Task.Run(() =>
    {
        if (Directory.Exists(path))
            throw new TransferSourceException(TransferFailure.SourceIsDirectory, path, $"The upload source '{path}' is a directory, not a file.");
        if (!File.Exists(path))
            throw new TransferSourceException(TransferFailure.SourceMissing, path, $"The upload source '{path}' does not exist.");
        try
        {
            using var probe = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.None);
            return new Source(probe.Length, File.GetLastWriteTimeUtc(path));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TransferSourceException(TransferFailure.SourceUnreadable, path, $"The upload source '{path}' cannot be read: {ex.Message}", ex);
        }
    });

    /// <summary>Opens <paramref name="path"/> for reading; a failure is a <see cref="TransferSourceException"/>.</summary>
    public static FileStream OpenSource(string path, int bufferSize)
    {
        try
        {
            return new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.Open,
                Access = FileAccess.Read,
                Share = FileShare.ReadWrite,
                Options = FileOptions.Asynchronous | FileOptions.SequentialScan,
                BufferSize = 0,
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TransferSourceException(ex is FileNotFoundException or DirectoryNotFoundException ? TransferFailure.SourceMissing : TransferFailure.SourceUnreadable,
                path, $"The upload source '{path}' cannot be opened: {ex.Message}", ex);
        }
    }

    /// <summary>Feeds the first <paramref name="length"/> bytes of <paramref name="path"/> into <paramref name="hash"/>.</summary>
    public static async Task HashPrefixAsync(string path, long length, IncrementalHash hash, int bufferSize, CancellationToken cancellationToken)
    {
        if (length == 0) return;
        var buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
        try
        {
            await using var file = OpenSource(path, bufferSize);
            var left = length;
            while (left > 0)
            {
                var read = await file.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                if (read == 0) throw new TransferSourceException(TransferFailure.SourceUnreadable, path, $"'{path}' is shorter than the {length} bytes expected: it changed during the transfer.");
                hash.AppendData(buffer, 0, read);
                left -= read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>The SHA-256 of the first <paramref name="length"/> bytes of <paramref name="path"/>, lower-case hex.</summary>
    public static async Task<string> Sha256Async(string path, long length, int bufferSize, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        await HashPrefixAsync(path, length, hash, bufferSize, cancellationToken).ConfigureAwait(false);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
