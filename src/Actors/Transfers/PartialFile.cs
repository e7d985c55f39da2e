using System.Globalization;
using System.Security.Cryptography;

namespace Courier.Transfers;

/// <summary>
/// The one home of what a transfer leaves on disk before it is finished, and of the rules about it: the names
/// (<c>&lt;destination&gt;.part</c>, <c>&lt;destination&gt;.part.json</c>, <c>&lt;source&gt;.tus</c>), the resume decision
/// (are the bytes in the <c>.part</c> the server's current file?), the hash of the kept bytes, and the final rename,
/// which never replaces a file it was not asked to replace. Everything here runs off the actors, as tasks.
/// </summary>
/// <remarks>
/// Parts are combined only under the same <em>strong</em> validator (RFC 9110 §15.3.7.3 and §13.1.5): a strong ETag, or a
/// Last-Modified that is at least one second older than the response's Date (§8.8.2.2). A weak ETag, or a date that may
/// name two versions written in the same second, restarts the download from byte 0 instead of risking a spliced file.
/// </remarks>
internal static class PartialFile
{
    /// <summary>The suffix of the file a download writes into.</summary>
    public const string PartSuffix = ".part";

    /// <summary>The suffix of the download state kept beside the <c>.part</c> (see <see cref="DownloadState"/>).</summary>
    public const string StateSuffix = ".part.json";

    /// <summary>The suffix of a tus upload's state kept beside its source (see <see cref="UploadState"/>).</summary>
    public const string UploadStateSuffix = ".tus";

    public static string PartOf(string destination) => destination + PartSuffix;

    public static string StateOf(string destination) => destination + StateSuffix;

    public static string UploadStateOf(string source) => source + UploadStateSuffix;

    // ---- validators ----------------------------------------------------------------------------------------------

    /// <summary>
    /// The validator that may be sent in <c>If-Range</c> and that proves two parts are of the same file: the ETag when it is
    /// strong; no validator at all when the ETag is weak (a client must not fall back to a date then); else Last-Modified
    /// when it is strong (the response's Date is at least one second later). Null when there is none.
    /// </summary>
    public static string? StrongValidator(HttpResponseMessage response)
    {
        if (response.Headers.ETag is { } tag) return tag.IsWeak ? null : tag.Tag;
        if (response.Content.Headers.LastModified is not { } modified) return null;
        if (response.Headers.Date is not { } date || date - modified < TimeSpan.FromSeconds(1)) return null;
        return modified.ToString("r", CultureInfo.InvariantCulture);
    }

    /// <summary>Whether the body of <paramref name="response"/> (a 206 or a 200) may be appended to the bytes <paramref name="state"/> describes.</summary>
    public static bool CanCombine(DownloadState? state, HttpResponseMessage response) =>
        state is not null && StrongValidator(response) is { } validator && string.Equals(validator, state.Validator, StringComparison.Ordinal);

    // ---- opening -------------------------------------------------------------------------------------------------

    /// <summary>The <c>.part</c> open for writing at <see cref="Offset"/>.</summary>
    /// <param name="Path">The final path the <c>.part</c> belongs to.</param>
    /// <param name="NamedPath">The path the server's name (or the caller) asked for; <see cref="Path"/> is a numbered alternative when it was taken.</param>
    /// <param name="File">The <c>.part</c>, positioned at <paramref name="Offset"/>.</param>
    /// <param name="Offset">The bytes kept from an earlier run (0 when none could be trusted). They are not read here: a
    /// download that verifies hashes them once it knows it must (<see cref="HashPrefixOfPartAsync"/>).</param>
    /// <param name="State">What proves where the kept bytes came from, or null.</param>
    public sealed record Opened(string Path, string NamedPath, FileStream File, long Offset, DownloadState? State);

    /// <summary>
    /// Opens (or creates) the <c>.part</c> of <paramref name="destination"/>; keeps its bytes only when the state beside it
    /// proves where they came from (the same URL, not longer than the file). With <paramref name="freeName"/> (a download into
    /// a folder without overwrite) a destination that exists is replaced by the first free numbered name.
    /// </summary>
    public static async Task<Opened> OpenAsync(string destination, Uri source, bool freeName, CancellationToken cancellationToken)
    {
        var path = freeName ? FirstFreeName(destination) : destination;
        var part = PartOf(path);
        var state = await TransferState.LoadAsync(StateOf(path), DownloadState.Read, cancellationToken).ConfigureAwait(false);
        FileStream file;
        try
        {
            file = new FileStream(part, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                Share = FileShare.Read,
                BufferSize = 0, // unbuffered and synchronous: the download's pump writes each block from its read's thread
            });
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{part}' cannot be opened for writing: {ex.Message}", ex);
        }
        try
        {
            var offset = file.Length;
            if (state is null || state.Url != source.AbsoluteUri || state.Length is { } length && offset > length)
            {
                // Truncated only when there is something to drop. On ext4 (auto_da_alloc) a truncate to zero marks the file
                // as replace-via-truncate, and its close then flushes every byte written since to the disk, inside the
                // close: 0.1 to 0.3 s per 512 MiB at the end of each fresh download, for a file nothing else overwrote.
                if (offset != 0) file.SetLength(0);
                offset = 0;
                state = null;
            }
            file.Position = offset;
            return new Opened(path, destination, file, offset, state);
        }
        catch
        {
            await file.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// Feeds the first <paramref name="length"/> bytes of the <c>.part</c> of <paramref name="destination"/> into
    /// <paramref name="hash"/>: a download that must verify and resumes from bytes it did not hash itself (kept by an
    /// earlier process, or received before it knew it had a digest to check) reads them back once.
    /// </summary>
    public static async Task HashPrefixOfPartAsync(string destination, long length, IncrementalHash hash, int bufferSize, CancellationToken cancellationToken)
    {
        try
        {
            await TransferFiles.HashPrefixAsync(PartOf(destination), length, hash, bufferSize, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or TransferSourceException)
        {
            throw new LocalIoException($"'{PartOf(destination)}' cannot be read back to hash it: {ex.Message}", ex);
        }
    }

    /// <summary>Starts the body of a 200 over: empties the <c>.part</c> if asked, and records (or forgets) the state.</summary>
    public static async Task RestartAsync(FileStream file, bool truncate, string destination, DownloadState? state, CancellationToken cancellationToken)
    {
        try
        {
            if (truncate)
            {
                file.SetLength(0);
                file.Position = 0;
            }
            if (state is null) TransferState.Delete(StateOf(destination));
            else await TransferState.SaveAsync(StateOf(destination), state.Write, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{file.Name}' cannot be prepared: {ex.Message}", ex);
        }
    }

    // ---- the end -----------------------------------------------------------------------------------------------------

    /// <summary>What <see cref="CommitAsync"/> found.</summary>
    public abstract record Outcome;

    /// <summary>The file is under <paramref name="Path"/>, with this SHA-256 when it was computed (null otherwise).</summary>
    public sealed record Committed(string Path, string? Sha256) : Outcome;

    /// <summary>The digest did not match; nothing was renamed.</summary>
    public sealed record DigestMismatch(string Source, string Expected, string Actual) : Outcome;

    /// <summary>
    /// Closes the <c>.part</c>; with <paramref name="verify"/> checks its SHA-256 (<paramref name="hash"/>, which covers every
    /// byte of it, or when null the <c>.part</c> read back whole) against the caller's and the server's; then gives it its
    /// final name in one rename. With <paramref name="freeName"/> no existing file is ever replaced: the name is reserved with a create-new
    /// (atomic on every file system) at this moment, so a file that appeared since the download started keeps its content
    /// and the download takes the next free numbered name. Without it, <paramref name="namedPath"/> is replaced.
    /// </summary>
    public static async Task<Outcome> CommitAsync(FileStream file, IncrementalHash? hash, bool verify, string path, string namedPath, bool freeName,
        byte[]? expectedByCaller, byte[]? declared, int bufferSize, CancellationToken cancellationToken)
    {
        var part = PartOf(path);
        try
        {
            long length;
            await using (file)
            {
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);
                length = file.Length;
            }
            string? sha = null;
            if (verify)
            {
                byte[] digest;
                if (hash is not null)
                {
                    digest = hash.GetHashAndReset();
                }
                else
                {
                    using var whole = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                    await HashPrefixOfPartAsync(path, length, whole, bufferSize, cancellationToken).ConfigureAwait(false);
                    digest = whole.GetHashAndReset();
                }
                if (expectedByCaller is not null && !digest.AsSpan().SequenceEqual(expectedByCaller))
                    return new DigestMismatch("the expected SHA-256", Convert.ToHexStringLower(expectedByCaller), Convert.ToHexStringLower(digest));
                if (declared is not null && !digest.AsSpan().SequenceEqual(declared))
                    return new DigestMismatch("the server's Repr-Digest/Content-Digest", Convert.ToHexStringLower(declared), Convert.ToHexStringLower(digest));
                sha = Convert.ToHexStringLower(digest);
            }
            var final = freeName ? MoveToFreeName(part, namedPath) : MoveReplacing(part, namedPath);
            TransferState.Delete(StateOf(path));
            return new Committed(final, sha);
        }
        catch (Exception ex) when (ex is IOException and not LocalIoException or UnauthorizedAccessException)
        {
            throw new LocalIoException($"'{part}' cannot be moved to '{path}': {ex.Message}", ex);
        }
    }

    /// <summary>Closes the <c>.part</c>; with <paramref name="remove"/> deletes it and its state (corrupt, empty, or the caller asked).</summary>
    public static async Task ReleaseAsync(FileStream? file, string? path, bool remove)
    {
        if (file is not null) await file.DisposeAsync().ConfigureAwait(false);
        if (!remove || path is null) return;
        TransferState.Delete(PartOf(path));
        TransferState.Delete(StateOf(path));
    }

    private static string MoveReplacing(string part, string path)
    {
        File.Move(part, path, overwrite: true);
        return path;
    }

    private static string MoveToFreeName(string part, string namedPath)
    {
        var (folder, name) = (Path.GetDirectoryName(namedPath)!, Path.GetFileName(namedPath));
        for (var n = 0; n < SafeFileName.MaxNumberedNames; n++)
        {
            var candidate = Path.Combine(folder, SafeFileName.Numbered(name, n));
            if (Directory.Exists(candidate)) continue;
            try
            {
                // Reserve the name: CreateNew fails if anything exists there, however recently it appeared.
                new FileStream(candidate, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1).Dispose();
            }
            catch (IOException) when (File.Exists(candidate) || Directory.Exists(candidate))
            {
                continue;
            }
            try
            {
                File.Move(part, candidate, overwrite: true); // replaces only our own empty reservation
            }
            catch
            {
                TransferState.Delete(candidate);
                throw;
            }
            return candidate;
        }
        throw NoFreeName(namedPath);
    }

    private static string FirstFreeName(string namedPath)
    {
        var (folder, name) = (Path.GetDirectoryName(namedPath)!, Path.GetFileName(namedPath));
        for (var n = 0; n < SafeFileName.MaxNumberedNames; n++)
        {
            var candidate = Path.Combine(folder, SafeFileName.Numbered(name, n));
            if (!File.Exists(candidate) && !Directory.Exists(candidate)) return candidate;
        }
        throw NoFreeName(namedPath);
    }

    private static TransferDestinationException NoFreeName(string namedPath) =>
        new(TransferFailure.DestinationExists, Path.GetDirectoryName(namedPath)!,
            $"'{SafeFileName.Printable(Path.GetFileName(namedPath))}' and its {SafeFileName.MaxNumberedNames - 1} numbered alternatives all exist in "
            + $"'{Path.GetDirectoryName(namedPath)}'; nothing was replaced (DownloadRequest.Overwrite replaces the file).");
}
