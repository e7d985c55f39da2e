namespace Courier.Transfers;

/// <summary>
/// Asks the <see cref="TransferCoordinator"/> to run a download. The sender gets exactly one <see cref="TransferResult"/>
/// (<see cref="TransferCompleted"/>, <see cref="TransferFailed"/> or <see cref="TransferCancelled"/>); the same result and
/// the progress are published on the event stream.
/// </summary>
public sealed record StartDownload(DownloadRequest Request)
{
    /// <inheritdoc />
    public override string ToString() => $"StartDownload({Request})";
}

/// <summary>Asks the <see cref="TransferCoordinator"/> to run an upload; answered like <see cref="StartDownload"/>.</summary>
public sealed record StartUpload(UploadRequest Request)
{
    /// <inheritdoc />
    public override string ToString() => $"StartUpload({Request})";
}

/// <summary>
/// Cancels a transfer by id: a queued one is dropped, a running one stops within one chunk, aborts its request and keeps
/// its <c>.part</c> (or tus upload state) for a later resume. The transfer ends with <see cref="TransferCancelled"/>.
/// </summary>
public sealed record CancelTransfer(long TransferId);

/// <summary>Which way the bytes go.</summary>
public enum TransferDirection
{
    /// <summary>From the server to a local file.</summary>
    Download,

    /// <summary>From a local file to the server.</summary>
    Upload,
}

/// <summary>The one answer to <see cref="StartDownload"/> / <see cref="StartUpload"/>, also published on the event stream.</summary>
public abstract record TransferResult(long TransferId, TransferDirection Direction);

/// <summary>The transfer completed: every byte is where it belongs, and the digest matched when there was one to check.</summary>
/// <param name="TransferId">The transfer's id.</param>
/// <param name="Direction">Download or upload.</param>
/// <param name="Path">The final file (downloads) or the source file (uploads).</param>
/// <param name="Bytes">The file's length.</param>
/// <param name="Duration">From the start of the transfer (after queueing) to its end, retries included.</param>
/// <param name="Sha256">The SHA-256 of the whole file, lower-case hex, when it was computed: a download that verified a
/// digest (the caller's or the server's), or a transfer whose request set <c>ComputeSha256</c>; null otherwise.</param>
/// <param name="Location">The tus upload URL, or null.</param>
public sealed record TransferCompleted(long TransferId, TransferDirection Direction, string Path, long Bytes, TimeSpan Duration, string? Sha256, Uri? Location = null)
    : TransferResult(TransferId, Direction)
{
    /// <summary>What the server answered to a multipart upload (its first few KiB, as text), or null.</summary>
    public string? ResponseBody { get; init; }
}

/// <summary>The transfer failed; <see cref="Error"/> says why (see <see cref="TransferException.Failure"/>).</summary>
public sealed record TransferFailed(long TransferId, TransferDirection Direction, TransferException Error) : TransferResult(TransferId, Direction)
{
    /// <summary>
    /// The partial file (a download's <c>.part</c>, a tus upload's state file) kept so that the same transfer started again
    /// resumes, or null when nothing worth resuming is kept. Also on <see cref="TransferException.PartialPath"/>.
    /// </summary>
    public string? PartialPath { get; init; }

    /// <summary>The reason, as a sentence.</summary>
    public string Reason => Error.Message;

    /// <inheritdoc />
    public override string ToString() => $"TransferFailed(transfer {TransferId}, {Error.Failure}: {Error.Message})";
}

/// <summary>The transfer was cancelled. Nothing exists under the final name; <paramref name="PartialPath"/> is kept for a resume (null when none).</summary>
public sealed record TransferCancelled(long TransferId, TransferDirection Direction, long BytesTransferred, string? PartialPath) : TransferResult(TransferId, Direction);

/// <summary>A transfer actor's one report to the coordinator.</summary>
internal sealed record TransferFinished(TransferResult Result);
