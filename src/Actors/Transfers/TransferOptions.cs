namespace Courier.Transfers;

/// <summary>
/// Settings of file transfers (<see cref="HttpRuntimeOptions.Transfers"/>, configuration section <c>Courier:Transfers</c>).
/// Every value is copied when the runtime starts, so a running transfer never sees a change. Retries use the request
/// path's backoff (<see cref="Requests.RetryOptions"/>) and its retry budget.
/// </summary>
public sealed class TransferOptions
{
    /// <summary>The most transfers running at once, separate from <see cref="HttpRuntimeOptions.MaxConcurrentCalls"/>; more wait in a queue.</summary>
    /// <value>The default value is 4. Range 1..1,000.</value>
    public int MaxConcurrentTransfers { get; set; } = 4;

    /// <summary>The most transfers waiting behind <see cref="MaxConcurrentTransfers"/>; past it a transfer fails at once (<see cref="TransferFailure.QueueFull"/>).</summary>
    /// <value>The default value is 1,000.</value>
    public int MaxQueuedTransfers { get; set; } = 1000;

    /// <summary>
    /// For a download, the bytes between two messages its copy sends the actor (progress, the length checks) without
    /// waiting for it; cancellation stops the copy within one read buffer. For a tus upload, the size of the first chunk
    /// and the smallest the adaptive chunk size goes down to (see <see cref="MaxChunkSize"/>).
    /// </summary>
    /// <value>The default value is 1 MiB. Range 1 KiB..256 MiB.</value>
    public int ChunkSize { get; set; } = 1024 * 1024;

    /// <summary>
    /// The largest tus chunk. The chunk size starts at <see cref="ChunkSize"/>, doubles after each chunk stored in less than
    /// a second, and halves after a slow or failed one, between the two. A chunk is streamed from the file, never held in
    /// memory, so its size costs no memory; it bounds what a failed request has to send again.
    /// </summary>
    /// <value>The default value is 64 MiB. Range <see cref="ChunkSize"/>..1 GiB.</value>
    public int MaxChunkSize { get; set; } = 64 * 1024 * 1024;

    /// <summary>The size of the pooled buffers bodies are read and written through (a download uses three).</summary>
    /// <value>The default value is 81,920 bytes. Range 1 KiB..16 MiB.</value>
    public int ReadBufferSize { get; set; } = 81920;

    /// <summary>The shortest time between two <see cref="TransferProgress"/> events of one transfer (unless <see cref="ProgressStep"/> passes first).</summary>
    /// <value>The default value is 100 ms.</value>
    public TimeSpan ProgressInterval { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>The fraction of the total that also triggers a progress event before <see cref="ProgressInterval"/> has passed.</summary>
    /// <value>The default value is 0.01 (1 %). Range 0..1; 0 or 1 turns the step trigger off.</value>
    public double ProgressStep { get; set; } = 0.01;

    /// <summary>The window the transfer rate (and so the ETA) is averaged over.</summary>
    /// <value>The default value is 3 s.</value>
    public TimeSpan RateWindow { get; set; } = TimeSpan.FromSeconds(3);

    /// <summary>
    /// How many times one chunk (a body segment, a <c>PATCH</c>, a whole multipart request) is retried after a transient
    /// failure. The count starts again whenever bytes move forward, so a long transfer over a link that drops now and then
    /// is not limited by it.
    /// </summary>
    /// <value>The default value is 5. Range 0..100.</value>
    public int MaxRetriesPerChunk { get; set; } = 5;

    /// <summary>A body that delivers no chunk for this long is treated as a dropped connection (and resumed).</summary>
    /// <value>The default value is 30 s.</value>
    public TimeSpan StallTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The per-attempt timeout of requests that carry a whole file (multipart uploads) or a chunk (tus <c>PATCH</c>),
    /// which replaces <see cref="HttpRuntimeOptions.AttemptTimeout"/> for them.
    /// </summary>
    /// <value>The default value is 1 hour.</value>
    public TimeSpan UploadAttemptTimeout { get; set; } = TimeSpan.FromHours(1);

    internal void Validate()
    {
        if (MaxConcurrentTransfers is < 1 or > 1000) throw new ArgumentOutOfRangeException(nameof(MaxConcurrentTransfers), MaxConcurrentTransfers, "Transfers:MaxConcurrentTransfers must be between 1 and 1000.");
        if (MaxQueuedTransfers < 0) throw new ArgumentOutOfRangeException(nameof(MaxQueuedTransfers), MaxQueuedTransfers, "Transfers:MaxQueuedTransfers must not be negative.");
        if (ChunkSize is < 1024 or > 256 * 1024 * 1024) throw new ArgumentOutOfRangeException(nameof(ChunkSize), ChunkSize, "Transfers:ChunkSize must be between 1 KiB and 256 MiB.");
        if (MaxChunkSize < ChunkSize || MaxChunkSize > 1024 * 1024 * 1024) throw new ArgumentOutOfRangeException(nameof(MaxChunkSize), MaxChunkSize, "Transfers:MaxChunkSize must be between Transfers:ChunkSize and 1 GiB.");
        if (ReadBufferSize is < 1024 or > 16 * 1024 * 1024) throw new ArgumentOutOfRangeException(nameof(ReadBufferSize), ReadBufferSize, "Transfers:ReadBufferSize must be between 1 KiB and 16 MiB.");
        if (ProgressInterval < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ProgressInterval), ProgressInterval, "Transfers:ProgressInterval must not be negative.");
        if (ProgressStep is < 0 or > 1 || double.IsNaN(ProgressStep)) throw new ArgumentOutOfRangeException(nameof(ProgressStep), ProgressStep, "Transfers:ProgressStep must be between 0 and 1.");
        if (RateWindow <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RateWindow), RateWindow, "Transfers:RateWindow must be positive.");
        if (MaxRetriesPerChunk is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(MaxRetriesPerChunk), MaxRetriesPerChunk, "Transfers:MaxRetriesPerChunk must be between 0 and 100.");
        if (StallTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(StallTimeout), StallTimeout, "Transfers:StallTimeout must be positive.");
        if (UploadAttemptTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(UploadAttemptTimeout), UploadAttemptTimeout, "Transfers:UploadAttemptTimeout must be positive.");
    }
}
