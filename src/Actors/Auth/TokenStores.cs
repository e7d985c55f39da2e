using System.Text.Json;
using System.Text.Json.Serialization;

namespace Courier.Auth;

/// <summary>
/// Where the TokenActor keeps the credentials between runs. The actor is its only user: it loads once at start and saves
/// every new pair before any waiting call sees it, one write at a time.
/// </summary>
public interface ITokenStore
{
    /// <summary>The stored credentials, or null when there are none.</summary>
    /// <exception cref="TokenStoreException">The store exists but cannot be read.</exception>
    Task<TokenPair?> LoadAsync(CancellationToken cancellationToken);

    /// <summary>Replaces the stored credentials.</summary>
    Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken);

    /// <summary>Removes the stored credentials.</summary>
    Task ClearAsync(CancellationToken cancellationToken);
}

/// <summary>The store could not be read or written. The message names the store and the problem, never a token.</summary>
public sealed class TokenStoreException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Keeps the credentials in memory only: they are lost with the process. The default.</summary>
public sealed class InMemoryTokenStore : ITokenStore
{
    private TokenPair? _credentials;

    /// <summary>Creates an empty store, or one holding <paramref name="initial"/>.</summary>
    public InMemoryTokenStore(TokenPair? initial = null) => _credentials = initial;

    /// <inheritdoc />
    public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) => Task.FromResult(Volatile.Read(ref _credentials));

    /// <inheritdoc />
    public Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken)
    {
        Volatile.Write(ref _credentials, credentials);
        return Task.CompletedTask;
    }

    /// <inheritdoc />
    public Task ClearAsync(CancellationToken cancellationToken)
    {
        Volatile.Write(ref _credentials, null);
        return Task.CompletedTask;
    }
}

/// <summary>
/// Keeps the credentials in a JSON file readable by its owner only, so a rotated refresh token survives a restart.
/// Every save writes a temporary file beside the target, flushes it to disk and renames it over the target: a crash
/// leaves the old file or the new one, never half of one.
/// </summary>
public sealed class FileTokenStore : ITokenStore
{
    private const int FormatVersion = 1;

    /// <summary>Creates a store at <paramref name="path"/>; its folder must exist.</summary>
    public FileTokenStore(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        Path = System.IO.Path.GetFullPath(path);
        var folder = System.IO.Path.GetDirectoryName(Path);
        if (folder is null || !Directory.Exists(folder))
            throw new TokenStoreException($"The token store folder '{folder}' does not exist.");
    }

    /// <summary>The file's full path.</summary>
    public string Path { get; }

    /// <inheritdoc />
    public async Task<TokenPair?> LoadAsync(CancellationToken cancellationToken)
    {
        if (!File.Exists(Path)) return null;
        StoredFile? stored;
        try
        {
            await using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true);
            stored = await JsonSerializer.DeserializeAsync(stream, TokenStoreJson.Default.StoredFile, cancellationToken).ConfigureAwait(false);
        }
        catch (JsonException ex)
        {
            // JsonException's message names the position, not the content: no token can leak through it.
            throw new TokenStoreException($"The token store '{Path}' is not valid JSON ({ex.Message}). Fix or delete it, then sign in again.", ex);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new TokenStoreException($"The token store '{Path}' cannot be read: {ex.Message}", ex);
        }

        if (stored is null || stored.Version != FormatVersion || string.IsNullOrEmpty(stored.AccessToken))
            throw new TokenStoreException($"The token store '{Path}' does not hold credentials in the expected format (version {FormatVersion}). Fix or delete it, then sign in again.");
        return new TokenPair(stored.AccessToken, stored.RefreshToken, stored.ExpiresAt);
    }

    /// <inheritdoc />
    public async Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var temp = Path + ".tmp-" + Guid.NewGuid().ToString("N");
        try
        {
            var options = new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Options = FileOptions.Asynchronous,
            };
            if (!OperatingSystem.IsWindows()) options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            await using (var stream = new FileStream(temp, options))
            {
                var stored = new StoredFile(FormatVersion, credentials.AccessToken, credentials.RefreshToken, credentials.ExpiresAt);
                await JsonSerializer.SerializeAsync(stream, stored, TokenStoreJson.Default.StoredFile, cancellationToken).ConfigureAwait(false);
                await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, Path, overwrite: true);
            // The rename lives in the folder: until the folder is flushed too, a power loss can bring back the old file,
            // and with it a refresh token the server has already rotated away.
            FolderSync.Flush(System.IO.Path.GetDirectoryName(Path)!);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            TryDelete(temp);
            throw new TokenStoreException($"The token store '{Path}' cannot be written: {ex.Message}", ex);
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <inheritdoc />
    /// <exception cref="TokenStoreException">The file exists and cannot be deleted: the credentials would come back at the
    /// next start, so this is reported rather than ignored.</exception>
    public Task ClearAsync(CancellationToken cancellationToken)
    {
        try
        {
            File.Delete(Path); // no error when there is no file
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return Task.FromException(new TokenStoreException($"The token store '{Path}' cannot be cleared: {ex.Message}", ex));
        }
        return Task.CompletedTask;
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    /// <summary>Flushes a folder's entries to disk (fsync on the folder). Unix only: NTFS journals renames itself.</summary>
    internal static class FolderSync
    {
        private const int ReadOnly = 0; // O_RDONLY, the same on Linux and macOS

        /// <summary>Flushes <paramref name="folder"/>; throws <see cref="IOException"/> when the system refuses.</summary>
        public static void Flush(string folder)
        {
            if (OperatingSystem.IsWindows()) return;
            var fd = Open(folder, ReadOnly);
            if (fd < 0) throw new IOException($"the folder could not be opened to flush it (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
            try
            {
                if (Fsync(fd) != 0) throw new IOException($"the folder could not be flushed (errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()})");
            }
            finally
            {
                _ = Close(fd);
            }
        }

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "open", SetLastError = true)]
        private static extern int Open([System.Runtime.InteropServices.MarshalAs(System.Runtime.InteropServices.UnmanagedType.LPUTF8Str)] string path, int flags);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
        private static extern int Fsync(int fd);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "close", SetLastError = true)]
        private static extern int Close(int fd);
    }

    internal sealed record StoredFile(int Version, string AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(FileTokenStore.StoredFile))]
internal sealed partial class TokenStoreJson : JsonSerializerContext;
