using System.Net;
using Courier.Errors;

namespace Courier.Transfers;

/// <summary>Why a transfer failed, for callers that switch rather than catch by type.</summary>
public enum TransferFailure
{
    /// <summary>The request itself is unusable (a malformed expected SHA-256, a file given where a folder is expected...).</summary>
    InvalidRequest,
    /// <summary>The source file does not exist.</summary>
    SourceMissing,
    /// <summary>The source is a directory, not a file.</summary>
    SourceIsDirectory,
    /// <summary>The source file cannot be opened or read (permissions, locked, changed while being sent).</summary>
    SourceUnreadable,
    /// <summary>The destination folder (or the destination file's folder) does not exist.</summary>
    DestinationFolderMissing,
    /// <summary>The name the server proposed cannot be made into a safe file name inside the folder.</summary>
    UnsafeFileName,
    /// <summary>A download into a folder found its name and every numbered alternative taken (nothing is replaced without <see cref="DownloadRequest.Overwrite"/>).</summary>
    DestinationExists,
    /// <summary>Writing the local file failed (disk full, permissions).</summary>
    LocalIo,
    /// <summary>The server refused the upload as too large (413).</summary>
    PayloadTooLarge,
    /// <summary>The server refused the media type (415).</summary>
    UnsupportedMediaType,
    /// <summary>The server could not serve the requested range (416), even after starting over.</summary>
    RangeNotSatisfiable,
    /// <summary>The bytes received or acknowledged do not add up to the length the server announced.</summary>
    LengthMismatch,
    /// <summary>The SHA-256 of the file is not the one the server or the caller gave.</summary>
    DigestMismatch,
    /// <summary>The server broke the protocol (a <c>Content-Range</c> for another offset, a tus answer without <c>Upload-Offset</c>...).</summary>
    ProtocolViolation,
    /// <summary>An HTTP call of the transfer failed for good (status, transport, timeout, authentication): see the inner <see cref="HttpCallException"/>.</summary>
    Http,
    /// <summary>Too many transfers were waiting; this one was refused without starting.</summary>
    QueueFull,
    /// <summary>The runtime is shutting down or the transfer's actor stopped unexpectedly.</summary>
    RuntimeUnavailable,
}

/// <summary>
/// The base of every error a transfer can end with (cancellation aside). The message names what was wrong, the file and the
/// URL with query values masked; never a header or a token.
/// </summary>
public class TransferException : Exception
{
    /// <summary>Creates the error.</summary>
    public TransferException(TransferFailure failure, string message, Exception? inner = null) : base(message, inner)
    {
        Failure = failure;
    }

    /// <summary>Why the transfer failed.</summary>
    public TransferFailure Failure { get; }

    /// <summary>The inner <see cref="HttpCallException"/> when an HTTP call failed for good.</summary>
    public HttpCallException? CallError => InnerException as HttpCallException;

    /// <summary>
    /// The partial file kept for a resume when the transfer ended (a download's <c>.part</c>, a tus upload's state file):
    /// starting the same transfer again resumes from it. Null when nothing worth resuming is kept.
    /// </summary>
    public string? PartialPath { get; internal set; }
}

/// <summary>The source of an upload is missing, a directory, or unreadable. It was not touched.</summary>
public sealed class TransferSourceException(TransferFailure failure, string path, string message, Exception? inner = null)
    : TransferException(failure, message, inner)
{
    /// <summary>The source path.</summary>
    public string Path { get; } = path;
}

/// <summary>The destination of a download is unusable: its folder is missing, the server's file name is unsafe, or every free name is taken.</summary>
public sealed class TransferDestinationException(TransferFailure failure, string path, string message, Exception? inner = null)
    : TransferException(failure, message, inner)
{
    /// <summary>The destination (folder or file) the caller gave.</summary>
    public string Path { get; } = path;
}

/// <summary>The server refused the transfer: 413 (too large), 415 (media type) or 416 (range).</summary>
public sealed class TransferRejectedException(TransferFailure failure, HttpStatusCode statusCode, string message, Exception? inner = null)
    : TransferException(failure, message, inner)
{
    /// <summary>The status the server answered.</summary>
    public HttpStatusCode StatusCode { get; } = statusCode;
}

/// <summary>The bytes do not add up: a short or long body, an acknowledged offset past what was sent, or a digest mismatch.</summary>
public sealed class TransferIntegrityException(TransferFailure failure, string expected, string actual, string message)
    : TransferException(failure, message)
{
    /// <summary>What the length or digest should have been.</summary>
    public string Expected { get; } = expected;

    /// <summary>What it was.</summary>
    public string Actual { get; } = actual;
}

/// <summary>The caller cancelled the transfer (facade only; actor callers get <see cref="TransferCancelled"/>).</summary>
public sealed class TransferCanceledException(long transferId, string? partialPath, CancellationToken token = default)
    : OperationCanceledException($"Transfer {transferId} was cancelled{(partialPath is null ? "." : $"; '{partialPath}' is kept for a resume.")}", null, token)
{
    /// <summary>The transfer's id.</summary>
    public long TransferId { get; } = transferId;

    /// <summary>The partial file kept for a resume, or null.</summary>
    public string? PartialPath { get; } = partialPath;
}
