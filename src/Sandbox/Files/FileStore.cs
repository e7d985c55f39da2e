using System.Buffers;
using System.Collections.Concurrent;
using System.Security.Cryptography;

namespace Courier.Sandbox.Files;

/// <summary>One stored file: its bytes on disk and what the download endpoint announces about them.</summary>
internal sealed record StoredFile(string Key, string Name, string Path, long Length, byte[] Sha256, string ETag, DateTimeOffset LastModified)
{
    public string Sha256Hex => Convert.ToHexStringLower(Sha256);
}

/// <summary>
/// The sandbox's files, keyed by <c>X-Sandbox-Key</c>-style keys so parallel tests never see each other's files. Bytes
/// live in a temporary folder of the server (deleted when it stops), never in memory; replacing a file gives it a new
/// strong ETag and Last-Modified.
/// </summary>
internal sealed class FileStore : IDisposable
{
    private readonly ConcurrentDictionary<(string Key, string Name), StoredFile> _files = new();
    private long _versions;
    private long _lastModifiedSeconds;

    public FileStore()
    {
        Root = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "courier-sandbox-files-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
    }

    public string Root { get; }

    public StoredFile? Get(string key, string name) => _files.TryGetValue((key, name), out var file) ? file : null;

    /// <summary>A fresh path inside the store for bytes being received.</summary>
    public string NewTempPath() => System.IO.Path.Combine(Root, Guid.NewGuid().ToString("N") + ".tmp");

    /// <summary>Moves a completely received file into place under (key, name) and announces its new version.</summary>
    public async Task<StoredFile> CommitAsync(string key, string name, string receivedPath, CancellationToken cancellationToken)
    {
        var sha = await HashAsync(receivedPath, cancellationToken).ConfigureAwait(false);
        return Commit(key, name, receivedPath, sha);
    }

    public StoredFile Commit(string key, string name, string receivedPath, byte[] sha)
    {
        var version = Interlocked.Increment(ref _versions);
        var final = System.IO.Path.Combine(Root, $"{version}.bin");
        File.Move(receivedPath, final);
        var length = new FileInfo(final).Length;
        // Whole seconds (Last-Modified has no finer resolution and If-Range compares it exactly), and never the same
        // second twice, so that a replaced file always gets a different Last-Modified as well as a different ETag.
        long seconds, last;
        do
        {
            last = Interlocked.Read(ref _lastModifiedSeconds);
            seconds = Math.Max(DateTimeOffset.UtcNow.ToUnixTimeSeconds(), last + 1);
        }
        while (Interlocked.CompareExchange(ref _lastModifiedSeconds, seconds, last) != last);
        var now = DateTimeOffset.FromUnixTimeSeconds(seconds);
        var file = new StoredFile(key, name, final, length, sha, $"\"{Convert.ToHexStringLower(sha)[..16]}-{version}\"", now);
        var previous = _files.TryGetValue((key, name), out var old) ? old : null;
        _files[(key, name)] = file;
        if (previous is not null) TryDelete(previous.Path); // a reader still streaming it keeps its open handle on Unix
        return file;
    }

    private static async Task<byte[]> HashAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            int read;
            while ((read = await stream.ReadAsync(buffer.AsMemory(0, 81920), cancellationToken).ConfigureAwait(false)) > 0) hash.AppendData(buffer, 0, read);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
        return hash.GetHashAndReset();
    }

    public static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}
