using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;

namespace Courier.Transfers;

/// <summary>
/// What a download keeps beside its <c>.part</c> (in <c>&lt;destination&gt;.part.json</c>) so that a later process can
/// resume it: where it came from and the validator that proves the server still has the same file.
/// </summary>
internal sealed record DownloadState(string Url, string Validator, long? Length, string? Sha256);

/// <summary>What a tus upload keeps beside its source (<c>&lt;source&gt;.tus</c>) so that a later process can resume it.</summary>
internal sealed record UploadState(string Endpoint, string UploadUrl, long Length, DateTime SourceWrittenUtc);

/// <summary>Reads and writes the small state files of transfers: atomically (temp file + rename), forgiving on read.</summary>
internal static class TransferState
{
    /// <summary>The state, or null when the file is missing or unreadable (a corrupt state only costs a restart).</summary>
    public static async Task<T?> LoadAsync<T>(string path, CancellationToken cancellationToken) where T : class
    {
        // The usual case, a first run, without the cost of a FileNotFoundException (still caught: the file may go meanwhile).
        if (!File.Exists(path)) return null;
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.Asynchronous);
            return await JsonSerializer.DeserializeAsync(stream, Info<T>(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            return null;
        }
    }

    public static async Task SaveAsync<T>(string path, T state, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
            await JsonSerializer.SerializeAsync(stream, state, Info<T>(), cancellationToken).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }

    /// <summary>
    /// The source-generated contract of a state type: no reflection, no run-time code generation, so the first transfer of a
    /// process does not pay for building a serializer (measured in bench/RESULTS.md).
    /// </summary>
    private static JsonTypeInfo<T> Info<T>() =>
        TransferStateJson.Default.GetTypeInfo(typeof(T)) as JsonTypeInfo<T> ?? throw new NotSupportedException($"{typeof(T).Name} is not a transfer state type.");

    public static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // A stale state file is harmless: the next transfer checks it against the server and the file.
        }
    }
}

/// <summary>The JSON of the transfer state files: the web defaults (camelCase, case-insensitive), indented.</summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true)]
[JsonSerializable(typeof(DownloadState))]
[JsonSerializable(typeof(UploadState))]
internal sealed partial class TransferStateJson : JsonSerializerContext;
