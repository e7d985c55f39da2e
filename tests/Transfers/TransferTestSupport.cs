using System.Security.Cryptography;
using System.Threading.Channels;
using Akka.Actor;

namespace Courier.Tests.Transfers;

/// <summary>A temporary folder for one test's files, deleted with everything in it on dispose.</summary>
public sealed class TempFolder : IDisposable
{
    public TempFolder()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "courier-transfers-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Folder(string name) => Directory.CreateDirectory(File(name)).FullName;

    /// <summary>Writes <paramref name="length"/> pseudo-random bytes (from <paramref name="seed"/>) to a new file; returns its path and SHA-256 hex.</summary>
    public (string Path, string Sha256) CreateFile(string name, long length, int seed = 1)
    {
        var path = File(name);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var random = new Random(seed);
        var block = new byte[1024 * 1024];
        using (var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            for (var left = length; left > 0;)
            {
                var n = (int)Math.Min(block.Length, left);
                random.NextBytes(block.AsSpan(0, n));
                file.Write(block, 0, n);
                hash.AppendData(block, 0, n);
                left -= n;
            }
        }
        return (path, Convert.ToHexStringLower(hash.GetHashAndReset()));
    }

    public static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    public static string Sha256(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));

    public static string Sha256File(string path)
    {
        using var file = System.IO.File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// A response body the test feeds by hand: <see cref="Release"/> makes bytes readable, <see cref="Fail"/> breaks the
/// stream like a dropped connection, <see cref="End"/> ends it. <see cref="ReadCancelled"/> completes when a pending read
/// was aborted by the reader's cancellation token.
/// </summary>
public sealed class GatedStream : Stream
{
    private readonly Channel<object> _items = Channel.CreateUnbounded<object>();
    private ReadOnlyMemory<byte> _rest;
    private int _reads;

    /// <summary>How many reads were asked for so far (a read is asked for before it waits for bytes).</summary>
    public int Reads => Volatile.Read(ref _reads);

    public TaskCompletionSource ReadCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public GatedStream Release(ReadOnlyMemory<byte> bytes)
    {
        _items.Writer.TryWrite(bytes);
        return this;
    }

    public GatedStream Fail(Exception error)
    {
        _items.Writer.TryWrite(error);
        return this;
    }

    public GatedStream End()
    {
        _items.Writer.TryComplete();
        return this;
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Increment(ref _reads);
        while (_rest.IsEmpty)
        {
            object item;
            try
            {
                if (!await _items.Reader.WaitToReadAsync(cancellationToken)) return 0;
                item = await _items.Reader.ReadAsync(cancellationToken);
            }
            catch (OperationCanceledException)
            {
                ReadCancelled.TrySetResult();
                throw;
            }
            if (item is Exception error) throw error;
            _rest = (ReadOnlyMemory<byte>)item;
        }
        var n = Math.Min(buffer.Length, _rest.Length);
        _rest[..n].CopyTo(buffer);
        _rest = _rest[n..];
        return n;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}

