namespace Courier.Host.Batch;

/// <summary>What a <c>batch</c> run does, as the command line chose it.</summary>
/// <param name="InputPath">The JSON-lines input.</param>
/// <param name="OutputPath">The JSON-lines results; the journal of sent lines sits beside it (<see cref="BatchJournal.PathFor"/>).</param>
/// <param name="Concurrency">The most calls in flight.</param>
/// <param name="BaseAddress">Resolves relative <c>url</c>s.</param>
internal sealed record BatchSettings(string InputPath, string OutputPath, int Concurrency, Uri? BaseAddress)
{
    /// <summary>Skip ids whose latest result is in the output (append to it).</summary>
    public bool Resume { get; init; }

    /// <summary>Like <see cref="Resume"/>, and also rerun the ids whose latest result failed.</summary>
    public bool RetryFailed { get; init; }

    /// <summary>Give non-idempotent lines (POST, PATCH...) without one a stable <c>Idempotency-Key</c>.</summary>
    public bool IdempotencyKeys { get; init; } = true;

    /// <summary>Send again the lines that were sent without a key and never answered (by default they are reported "in doubt").</summary>
    public bool ResendInDoubt { get; init; }

    /// <summary>Write every response body as base64 (<c>bodyBase64</c>) instead of JSON or text.</summary>
    public bool BodyBase64 { get; init; }

    /// <summary>The identity keys derive from; by default a random one kept in the journal, so a resumed batch reuses it.</summary>
    public string? BatchId { get; init; }

    /// <summary>Whether the output is appended to (and its results read first).</summary>
    public bool Continues => Resume || RetryFailed;
}
