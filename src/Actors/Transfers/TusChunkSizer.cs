namespace Courier.Transfers;

/// <summary>
/// The size of the next tus chunk: it starts at <see cref="TransferOptions.ChunkSize"/>, doubles after every whole chunk
/// that took less than <see cref="Target"/>, halves after one that took more than four times as long or that failed, and
/// stays within [<see cref="TransferOptions.ChunkSize"/>, <see cref="TransferOptions.MaxChunkSize"/>]. On a fast link a
/// 1 GiB upload takes tens of requests instead of a thousand; on a slow or failing one a chunk stays small enough to
/// finish (and to lose little when it does not). Times come from the actor system's scheduler.
/// </summary>
internal sealed class TusChunkSizer
{
    /// <summary>How long one chunk should take, about: long enough that a request's fixed cost does not matter.</summary>
    public static readonly TimeSpan Target = TimeSpan.FromSeconds(1);

    private readonly int _min;
    private readonly int _max;

    public TusChunkSizer(int min, int max)
    {
        if (min < 1 || max < min) throw new ArgumentOutOfRangeException(nameof(max), max, "The largest chunk must be at least the smallest.");
        _min = min;
        _max = max;
        Size = min;
        SizeBeforeFailure = min;
    }

    /// <summary>The size of the next chunk.</summary>
    public int Size { get; private set; }

    /// <summary>The size before the last <see cref="Failed"/> (equal to <see cref="Size"/> when that did not lower it).</summary>
    public int SizeBeforeFailure { get; private set; }

    /// <summary>A chunk of <paramref name="bytes"/> was stored whole after <paramref name="took"/>.</summary>
    public void Completed(long bytes, TimeSpan took)
    {
        if (bytes < Size) return; // the file's last, shorter chunk says nothing about the link
        if (took < Target) Size = (int)Math.Min((long)Size * 2, _max);
        else if (took > 4 * Target) Size = Math.Max(Size / 2, _min);
    }

    /// <summary>A chunk failed, or the server kept only part of it.</summary>
    public void Failed()
    {
        SizeBeforeFailure = Size;
        Size = Math.Max(Size / 2, _min);
    }
}
