namespace Courier.Transfers;

/// <summary>Published on the event stream when a transfer leaves the queue and starts.</summary>
/// <param name="TransferId">The transfer's id.</param>
/// <param name="Direction">Download or upload.</param>
/// <param name="Description">The request, for display (URL with query values masked, never headers).</param>
public sealed record TransferStarted(long TransferId, TransferDirection Direction, string Description);

/// <summary>
/// Published on the event stream (and given to the request's <see cref="IProgress{T}"/>) at most every
/// <see cref="TransferOptions.ProgressInterval"/> or <see cref="TransferOptions.ProgressStep"/> of the total, plus a final one.
/// Values never go backwards.
/// </summary>
/// <param name="TransferId">The transfer's id.</param>
/// <param name="Direction">Download or upload.</param>
/// <param name="BytesTransferred">Bytes written to the <c>.part</c> (downloads, resumed prefix included) or sent (uploads).</param>
/// <param name="BytesAcknowledged">Uploads: bytes the server confirmed it stored (tus <c>Upload-Offset</c>; multipart: all of them once it answered). Downloads: equal to <paramref name="BytesTransferred"/>.</param>
/// <param name="TotalBytes">The total, or null when it is unknown (no length, or a compressed body): never a guess.</param>
/// <param name="BytesPerSecond">The rate over <see cref="TransferOptions.RateWindow"/>.</param>
/// <param name="Eta">The estimated time left, when the total is known and bytes are moving.</param>
public sealed record TransferProgress(long TransferId, TransferDirection Direction, long BytesTransferred, long BytesAcknowledged,
    long? TotalBytes, double BytesPerSecond, TimeSpan? Eta)
{
    /// <summary>Whether <see cref="TotalBytes"/> is known.</summary>
    public bool TotalKnown => TotalBytes is not null;

    /// <summary>The fraction done, 0..1, when the total is known.</summary>
    public double? Fraction => TotalBytes is { } total ? total == 0 ? 1 : Math.Min(1, (double)BytesTransferred / total) : null;
}

/// <summary>
/// Published on the event stream each time a transfer schedules a retry, after the retry timer is set (tests advance a
/// TestScheduler on it).
/// </summary>
/// <param name="TransferId">The transfer's id.</param>
/// <param name="Retry">Which retry of the current chunk, from 1.</param>
/// <param name="MaxRetries"><see cref="TransferOptions.MaxRetriesPerChunk"/>.</param>
/// <param name="Delay">The backoff delay.</param>
/// <param name="Offset">Where the transfer resumes from.</param>
/// <param name="Reason">What went wrong.</param>
public sealed record TransferRetryScheduled(long TransferId, int Retry, int MaxRetries, TimeSpan Delay, long Offset, string Reason);

/// <summary>
/// Published on the event stream when a transfer resumes from what an earlier run left: a download from the bytes of its
/// partial file, a tus upload from the upload URL in its state file (the server is then asked for its offset).
/// </summary>
/// <param name="TransferId">The transfer's id.</param>
/// <param name="Direction">Download or upload.</param>
/// <param name="PartialPath">The partial file (download) or state file (tus upload) the transfer resumes from.</param>
/// <param name="Offset">The bytes already on disk (download); 0 for an upload, whose offset the server reports.</param>
public sealed record TransferResumed(long TransferId, TransferDirection Direction, string PartialPath, long Offset);
