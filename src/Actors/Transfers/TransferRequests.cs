using Courier.Diagnostics;

namespace Courier.Transfers;

/// <summary>How an upload talks to the server.</summary>
public enum UploadProtocol
{
    /// <summary>One <c>multipart/form-data</c> POST with the file under <see cref="UploadRequest.FileField"/>; a failure restarts it from the beginning.</summary>
    Multipart,

    /// <summary>The tus 1.0 core protocol with the creation extension: resumable, chunk by chunk, across processes.</summary>
    Tus,
}

/// <summary>A download to run: <see cref="Source"/> is streamed into <c>&lt;destination&gt;.part</c>, then renamed.</summary>
/// <param name="Source">An absolute http or https URL (a relative one is resolved against <see cref="HttpRuntimeOptions.BaseAddress"/> by the facade).</param>
/// <param name="Destination">The file to write, or with <see cref="DestinationIsFolder"/> the folder to write into.</param>
public sealed record DownloadRequest(Uri Source, string Destination)
{
    /// <summary>A process-wide unique id, carried by every event of the transfer and used to cancel it.</summary>
    public long Id { get; init; } = TransferIds.Next();

    /// <summary>
    /// <see cref="Destination"/> is an existing folder: the file name comes from the response's <c>Content-Disposition</c>
    /// (<c>filename*</c> preferred), else from the URL, reduced to a safe name inside the folder.
    /// </summary>
    public bool DestinationIsFolder { get; init; }

    /// <summary>
    /// With <see cref="DestinationIsFolder"/>: replace a file that already has the server's name. By default an existing file
    /// (dotfiles included) is never replaced: the download takes the first free name as browsers do (<c>report (1).pdf</c>),
    /// chosen again at the final rename so that a file created meanwhile is not replaced either, and fails with
    /// <see cref="TransferFailure.DestinationExists"/> when no free name is left. A download to a file the caller named
    /// (<see cref="ToFile"/>) replaces that file: the caller chose the name.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Overwrite { get; init; }

    /// <summary>The SHA-256 the file must have (hex); the download fails with <see cref="TransferFailure.DigestMismatch"/> otherwise.</summary>
    public string? ExpectedSha256 { get; init; }

    /// <summary>
    /// Compute the SHA-256 of the file and report it in <see cref="TransferCompleted.Sha256"/> even when there is nothing
    /// to check it against. Without it a download hashes only when it verifies: with <see cref="ExpectedSha256"/> or when
    /// the server sends a <c>Repr-Digest</c>/<c>Content-Digest</c> (then <see cref="TransferCompleted.Sha256"/> is set too);
    /// otherwise no byte is hashed and <see cref="TransferCompleted.Sha256"/> is null.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool ComputeSha256 { get; init; }

    /// <summary>Extra request headers (not content headers), sent with every request of the transfer.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Send the requests without the runtime's access token.</summary>
    public bool Anonymous { get; init; }

    /// <summary>Delete the <c>.part</c> file when the transfer fails or is cancelled, instead of keeping it for a later resume.</summary>
    public bool DeletePartialOnFailure { get; init; }

    /// <summary>Receives the progress of this transfer (the same values as the <see cref="TransferProgress"/> events).</summary>
    public IProgress<TransferProgress>? Progress { get; init; }

    /// <summary>The caller's span the transfer's span is a child of: <see cref="System.Diagnostics.Activity.Current"/> where the request was made.</summary>
    public System.Diagnostics.ActivityContext TraceParent { get; init; } = System.Diagnostics.Activity.Current?.Context ?? default;

    /// <summary>A download into the file <paramref name="path"/>.</summary>
    public static DownloadRequest ToFile(Uri source, string path) => new(source, path);

    /// <summary>A download into <paramref name="folder"/>, named by the server.</summary>
    public static DownloadRequest ToFolder(Uri source, string folder) => new(source, folder) { DestinationIsFolder = true };

    /// <summary>The URL with query values masked and the destination: never headers.</summary>
    public override string ToString() => $"download {SafeUrl.Format(Source)} -> {Destination} (transfer {Id})";
}

/// <summary>An upload to run: the file at <see cref="SourcePath"/> is streamed from disk, never buffered whole.</summary>
/// <param name="Target">For <see cref="UploadProtocol.Multipart"/> the URL the form is POSTed to; for <see cref="UploadProtocol.Tus"/> the creation endpoint.</param>
/// <param name="SourcePath">The file to send. It is only ever read.</param>
public sealed record UploadRequest(Uri Target, string SourcePath)
{
    /// <summary>A process-wide unique id, carried by every event of the transfer and used to cancel it.</summary>
    public long Id { get; init; } = TransferIds.Next();

    /// <summary>The protocol.</summary>
    public UploadProtocol Protocol { get; init; } = UploadProtocol.Multipart;

    /// <summary>The form field that carries the file (multipart).</summary>
    public string FileField { get; init; } = "file";

    /// <summary>The file name sent to the server (multipart <c>filename</c>, tus <c>filename</c> metadata); null for the source's name.</summary>
    public string? FileName { get; init; }

    /// <summary>
    /// Compute the SHA-256 of the bytes sent and report it in <see cref="TransferCompleted.Sha256"/>. Without it an upload
    /// hashes nothing and <see cref="TransferCompleted.Sha256"/> is null.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool ComputeSha256 { get; init; }

    /// <summary>The media type of the file part (multipart) and the <c>filetype</c> metadata (tus).</summary>
    public string ContentType { get; init; } = "application/octet-stream";

    /// <summary>Extra form fields sent before the file (multipart), or extra <c>Upload-Metadata</c> pairs (tus).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Fields { get; init; } = [];

    /// <summary>Extra request headers (not content headers), sent with every request of the transfer.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>Send the requests without the runtime's access token.</summary>
    public bool Anonymous { get; init; }

    /// <summary>
    /// Where a tus upload keeps its upload URL so that a new process can resume it; null for
    /// <c>&lt;source&gt;.tus</c> beside the source file. Deleted when the upload completes.
    /// </summary>
    public string? StatePath { get; init; }

    /// <summary>Receives the progress of this transfer (the same values as the <see cref="TransferProgress"/> events).</summary>
    public IProgress<TransferProgress>? Progress { get; init; }

    /// <summary>The caller's span the transfer's span is a child of: <see cref="System.Diagnostics.Activity.Current"/> where the request was made.</summary>
    public System.Diagnostics.ActivityContext TraceParent { get; init; } = System.Diagnostics.Activity.Current?.Context ?? default;

    /// <summary>A multipart upload of <paramref name="sourcePath"/> to <paramref name="target"/>.</summary>
    public static UploadRequest Multipart(Uri target, string sourcePath) => new(target, sourcePath);

    /// <summary>A resumable tus upload of <paramref name="sourcePath"/> to the creation endpoint <paramref name="endpoint"/>.</summary>
    public static UploadRequest Tus(Uri endpoint, string sourcePath) => new(endpoint, sourcePath) { Protocol = UploadProtocol.Tus };

    internal string EffectiveStatePath => StatePath ?? PartialFile.UploadStateOf(SourcePath);

    internal string EffectiveFileName => FileName ?? Path.GetFileName(SourcePath);

    /// <summary>The source and the URL with query values masked: never headers.</summary>
    public override string ToString() => $"upload ({Protocol}) {SourcePath} -> {SafeUrl.Format(Target)} (transfer {Id})";
}

internal static class TransferIds
{
    private static long _last;

    public static long Next() => Interlocked.Increment(ref _last);
}
