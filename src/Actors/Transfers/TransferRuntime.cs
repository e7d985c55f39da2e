using Akka.Actor;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// What every transfer actor of one runtime shares: the transfer settings (copied at start), the request path they send
/// every HTTP call through (tokens, redirects, timeouts) and its policy (backoff, retry budget, retryable statuses).
/// </summary>
internal sealed class TransferRuntime
{
    public TransferRuntime(TransferOptions options, RequestRuntime requests, IActorRef calls)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        Requests = requests;
        Calls = calls;
        MaxConcurrentTransfers = options.MaxConcurrentTransfers;
        MaxQueuedTransfers = options.MaxQueuedTransfers;
        ChunkSize = options.ChunkSize;
        MaxChunkSize = options.MaxChunkSize;
        ReadBufferSize = options.ReadBufferSize;
        ProgressInterval = options.ProgressInterval;
        ProgressStep = options.ProgressStep;
        RateWindow = options.RateWindow;
        MaxRetriesPerChunk = options.MaxRetriesPerChunk;
        StallTimeout = options.StallTimeout;
        UploadAttemptTimeout = options.UploadAttemptTimeout;
    }

    /// <summary>The request path's shared policy: backoff (<see cref="RequestRuntime.DelayBeforeRetry"/>), budget, log.</summary>
    public RequestRuntime Requests { get; }

    /// <summary>The <see cref="RequestCoordinator"/> every call of a transfer goes through.</summary>
    public IActorRef Calls { get; }

    public int MaxConcurrentTransfers { get; }
    public int MaxQueuedTransfers { get; }
    public int ChunkSize { get; }
    public int MaxChunkSize { get; }
    public int ReadBufferSize { get; }
    public TimeSpan ProgressInterval { get; }
    public double ProgressStep { get; }
    public TimeSpan RateWindow { get; }
    public int MaxRetriesPerChunk { get; }
    public TimeSpan StallTimeout { get; }
    public TimeSpan UploadAttemptTimeout { get; }
}
