using Akka.Actor;

namespace Courier.Transfers;

/// <summary>File transfers as seen from code that is not an actor (implemented by <see cref="HttpRuntimeClient"/>).</summary>
public interface ITransferClient
{
    /// <summary>
    /// Downloads <see cref="DownloadRequest.Source"/> into <see cref="DownloadRequest.Destination"/> (through a <c>.part</c>
    /// file, resumed after dropped connections and across processes, renamed only once complete and verified).
    /// </summary>
    /// <param name="request">What to download and where.</param>
    /// <param name="progress">Receives throttled, monotonic progress; null for none.</param>
    /// <param name="cancellationToken">Stops the transfer within one chunk; the <c>.part</c> is kept for a resume.</param>
    /// <returns>The completed transfer: final path, length, duration, SHA-256.</returns>
    /// <exception cref="TransferException">The transfer failed; see the subclass and <see cref="TransferException.Failure"/>.</exception>
    /// <exception cref="TransferCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    Task<TransferCompleted> DownloadAsync(DownloadRequest request, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default);

    /// <summary>Uploads <see cref="UploadRequest.SourcePath"/> (multipart or tus), streamed from disk.</summary>
    /// <inheritdoc cref="DownloadAsync" path="/exception"/>
    /// <param name="request">What to upload and where.</param>
    /// <param name="progress">Receives every <see cref="TransferProgress"/> of this transfer (throttled, never backwards).</param>
    /// <param name="cancellationToken">Stops the transfer within one chunk; a tus upload keeps its state for a resume.</param>
    /// <returns>The completed transfer: source path, length, duration, SHA-256, and the tus upload URL.</returns>
    Task<TransferCompleted> UploadAsync(UploadRequest request, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default);
}

/// <summary>
/// The facade part of transfers, answered through the same reply mechanism as calls: a reply reference tracked by a watch of
/// the <see cref="TransferCoordinator"/> (a transfer whose coordinator stopped is answered), cancellation as a message.
/// </summary>
internal sealed class TransferClient(Func<CancellationToken, Task<IActorRef?>> coordinator, Uri? baseAddress) : ITransferClient
{
    private Internal.CoordinatorWatch? _watch;

    public Task<TransferCompleted> DownloadAsync(DownloadRequest request, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.ExpectedSha256 is { } sha) TransferHeaders.ParseHexSha256(sha); // a caller mistake is an ArgumentException, at once
        request = request with { Source = Resolve(request.Source), Progress = progress ?? request.Progress };
        return RunAsync(new StartDownload(request), request.Id, TransferDirection.Download, cancellationToken);
    }

    public Task<TransferCompleted> UploadAsync(UploadRequest request, IProgress<TransferProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        request = request with { Target = Resolve(request.Target), Progress = progress ?? request.Progress };
        return RunAsync(new StartUpload(request), request.Id, TransferDirection.Upload, cancellationToken);
    }

    private async Task<TransferCompleted> RunAsync(object start, long id, TransferDirection direction, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var target = await coordinator(cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("File transfers are not running in this runtime.");
        var watch = Internal.CoordinatorWatch.For(ref _watch, target);
        if (watch.Stopped) throw Stopped(id, direction).Error;

        var reply = new Internal.ReplyRef<TransferResult>(watch.Provider, watch.Path, stopped: () => Stopped(id, direction));
        using var tracked = watch.Track(reply);
        target.Tell(start, reply);
        // Cancellation is a message, and the answer is awaited (unlike a call's, which is completed here at once): a
        // cancelled transfer stops within one chunk and answers with its .part, and until then its actor still writes
        // the file. If the coordinator stops instead, the watch answers.
        await using var registration = cancellationToken.Register(static state =>
        {
            var (actor, transferId) = ((IActorRef, long))state!;
            actor.Tell(new CancelTransfer(transferId));
        }, (target, id)).ConfigureAwait(false);

        var result = await reply.Task.ConfigureAwait(false);
        return result switch
        {
            TransferCompleted completed => completed,
            TransferFailed failed => throw failed.Error,
            TransferCancelled cancelled => throw new TransferCanceledException(id, cancelled.PartialPath, cancellationToken),
            _ => throw new InvalidOperationException($"Unexpected answer {result}."),
        };
    }

    private static TransferFailed Stopped(long id, TransferDirection direction) =>
        new(id, direction, new TransferException(TransferFailure.RuntimeUnavailable,
            $"Transfer {id}: the runtime stopped (the actor system is shutting down); any .part file is kept for a resume."));

    private Uri Resolve(Uri uri)
    {
        if (uri.IsAbsoluteUri) return uri;
        if (baseAddress is null) throw new ArgumentException($"'{uri}' is relative and no Courier:BaseAddress is configured.", nameof(uri));
        return new Uri(baseAddress, uri);
    }
}
