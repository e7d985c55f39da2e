using System.Globalization;
using System.Text.Json;

namespace Courier.Transfers;

/// <summary>
/// What a download keeps beside its <c>.part</c> (in <c>&lt;destination&gt;.part.json</c>) so that a later process can
/// resume it: where it came from and the validator that proves the server still has the same file.
/// </summary>
internal sealed record DownloadState(string Url, string Validator, long? Length, string? Sha256)
{
    internal void Write(Utf8JsonWriter json)
    {
        json.WriteString("url", Url);
        json.WriteString("validator", Validator);
        if (Length is { } length) json.WriteNumber("length", length);
        else json.WriteNull("length");
        json.WriteString("sha256", Sha256);
    }

    /// <summary>The state in <paramref name="json"/>, or null when a required field is missing or has the wrong type.</summary>
    internal static DownloadState? Read(JsonElement json) =>
        TransferState.String(json, "url") is { } url && TransferState.String(json, "validator") is { } validator
            && TransferState.OptionalNumber(json, "length", out var length) && TransferState.OptionalString(json, "sha256", out var sha256)
            ? new DownloadState(url, validator, length, sha256)
            : null;
}

/// <summary>What a tus upload keeps beside its source (<c>&lt;source&gt;.tus</c>) so that a later process can resume it.</summary>
internal sealed record UploadState(string Endpoint, string UploadUrl, long Length, DateTime SourceWrittenUtc)
{
    internal void Write(Utf8JsonWriter json)
    {
        json.WriteString("endpoint", Endpoint);
        json.WriteString("uploadUrl", UploadUrl);
        json.WriteNumber("length", Length);
        json.WriteString("sourceWrittenUtc", SourceWrittenUtc);
    }

    /// <summary>The state in <paramref name="json"/>, or null when a field is missing or has the wrong type.</summary>
    internal static UploadState? Read(JsonElement json) =>
        TransferState.String(json, "endpoint") is { } endpoint && TransferState.String(json, "uploadUrl") is { } uploadUrl
            && TransferState.OptionalNumber(json, "length", out var length) && length is { } known
            && TransferState.Find(json, "sourceWrittenUtc") is { ValueKind: JsonValueKind.String } written && written.TryGetDateTime(out var writtenUtc)
            ? new UploadState(endpoint, uploadUrl, known, writtenUtc)
            : null;
}

/// <summary>
/// Reads and writes the small state files of transfers: atomically (temp file + rename), forgiving on read. The JSON is
/// written and read by hand (<see cref="Utf8JsonWriter"/>, <see cref="JsonDocument"/>): the serializer's generic code,
/// instantiated for these types, was compiled by the JIT inside the first download of every process (bench/RESULTS.md).
/// The format is the serializer's web defaults: camelCase names (read case-insensitively), indented; a number may also
/// be read from a string.
/// </summary>
internal static class TransferState
{
    private static readonly JsonWriterOptions Indented = new() { Indented = true };

    /// <summary>The state, or null when the file is missing or unreadable (a corrupt state only costs a restart).</summary>
    public static async Task<T?> LoadAsync<T>(string path, Func<JsonElement, T?> read, CancellationToken cancellationToken) where T : class
    {
        // The usual case, a first run, without the cost of a FileNotFoundException (still caught: the file may go meanwhile).
        if (!File.Exists(path)) return null;
        try
        {
            await using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, FileOptions.Asynchronous);
            using var document = await JsonDocument.ParseAsync(stream, default, cancellationToken).ConfigureAwait(false);
            return document.RootElement.ValueKind == JsonValueKind.Object ? read(document.RootElement) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException)
        {
            return null;
        }
    }

    public static async Task SaveAsync(string path, Action<Utf8JsonWriter> write, CancellationToken cancellationToken)
    {
        var temp = path + ".tmp";
        await using (var stream = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous))
        {
            await using var json = new Utf8JsonWriter(stream, Indented);
            json.WriteStartObject();
            write(json);
            json.WriteEndObject();
            await json.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        File.Move(temp, path, overwrite: true);
    }

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

    /// <summary>The property <paramref name="name"/> of <paramref name="json"/>, its name compared case-insensitively, or null.</summary>
    internal static JsonElement? Find(JsonElement json, string name)
    {
        foreach (var property in json.EnumerateObject())
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase)) return property.Value;
        return null;
    }

    /// <summary>The string <paramref name="name"/>, or null when it is missing or not a string.</summary>
    internal static string? String(JsonElement json, string name) =>
        Find(json, name) is { ValueKind: JsonValueKind.String } value ? value.GetString() : null;

    /// <summary>False when <paramref name="name"/> is there but not a string or null; else its value (null when missing or null).</summary>
    internal static bool OptionalString(JsonElement json, string name, out string? value)
    {
        value = null;
        switch (Find(json, name))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return true;
            case { ValueKind: JsonValueKind.String } text:
                value = text.GetString();
                return true;
            default:
                return false;
        }
    }

    /// <summary>False when <paramref name="name"/> is there but not a whole number (or a string of one) or null; else its value.</summary>
    internal static bool OptionalNumber(JsonElement json, string name, out long? value)
    {
        value = null;
        switch (Find(json, name))
        {
            case null or { ValueKind: JsonValueKind.Null }:
                return true;
            case { ValueKind: JsonValueKind.Number } number when number.TryGetInt64(out var n):
                value = n;
                return true;
            case { ValueKind: JsonValueKind.String } text when long.TryParse(text.GetString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n):
                value = n;
                return true;
            default:
                return false;
        }
    }
}
