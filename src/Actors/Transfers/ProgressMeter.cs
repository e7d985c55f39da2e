namespace Courier.Transfers;

/// <summary>
/// Decides when a transfer publishes progress and what it says: throttled to one event per interval or per step of the
/// total, monotonic, with the rate averaged over a short window and an ETA when the total is known. Pure: time is passed
/// in (the actor's scheduler clock), so tests drive it exactly. Samples live in a fixed ring: no allocation per call
/// besides the event it returns.
/// </summary>
internal sealed class ProgressMeter
{
    private const int RingSize = 64;

    private readonly long _id;
    private readonly TransferDirection _direction;
    private readonly TimeSpan _interval;
    private readonly double _step;
    private readonly TimeSpan _window;
    private readonly DateTimeOffset[] _sampleAt = new DateTimeOffset[RingSize];
    private readonly long[] _sampleBytes = new long[RingSize];
    private int _next;
    private int _count;
    private bool _published;
    private DateTimeOffset _lastAt;
    private long _lastBytes;
    private long _lastAcked;
    private long? _lastTotal;

    public ProgressMeter(long id, TransferDirection direction, TimeSpan interval, double step, TimeSpan window, DateTimeOffset start, long startBytes)
    {
        _id = id;
        _direction = direction;
        _interval = interval;
        _step = step is > 0 and < 1 ? step : 0;
        _window = window;
        Restart(start, startBytes);
    }

    /// <summary>The last published progress, or null.</summary>
    public TransferProgress? Last { get; private set; }

    /// <summary>Resets the rate window (after a resume the bytes already on disk must not count as speed).</summary>
    public void Restart(DateTimeOffset now, long bytes)
    {
        _count = 0;
        _next = 0;
        Sample(now, Math.Max(bytes, _lastBytes));
    }

    /// <summary>
    /// The progress to publish now, or null when it is too soon (or nothing moved). <paramref name="final"/> always publishes.
    /// </summary>
    public TransferProgress? Observe(long transferred, long acknowledged, long? total, DateTimeOffset now, bool final = false)
    {
        // Never backwards: a multipart upload that restarts, or a download truncated after a changed file, keeps showing its best.
        transferred = Math.Max(transferred, _lastBytes);
        acknowledged = Math.Max(acknowledged, _lastAcked);
        if (!final && _published)
        {
            if (transferred == _lastBytes && acknowledged == _lastAcked && total == _lastTotal) return null;
            var due = now - _lastAt >= _interval
                || _step > 0 && total is > 0 && transferred - _lastBytes >= _step * total.Value
                || total != _lastTotal;
            if (!due) return null;
        }

        Sample(now, transferred);
        var rate = Rate(now, transferred);
        TimeSpan? eta = total is { } t && !final && rate > 0 && t >= transferred
            ? TimeSpan.FromSeconds(Math.Min((t - transferred) / rate, TimeSpan.MaxValue.TotalSeconds / 2))
            : final ? TimeSpan.Zero : null;
        _published = true;
        _lastAt = now;
        _lastBytes = transferred;
        _lastAcked = acknowledged;
        _lastTotal = total;
        Last = new TransferProgress(_id, _direction, transferred, acknowledged, total, rate, eta);
        return Last;
    }

    private void Sample(DateTimeOffset at, long bytes)
    {
        // Samples closer together than the window's share of the ring are not kept: reports the actor heard late, in a
        // burst, would otherwise fill the ring with samples a few microseconds apart, push out the one that spans the
        // window, and read as a rate of many GiB/s. The rate still counts every byte up to now (Rate's arguments).
        if (_count > 0 && at - _sampleAt[(_next - 1 + RingSize) % RingSize] < _window / RingSize) return;
        _sampleAt[_next] = at;
        _sampleBytes[_next] = bytes;
        _next = (_next + 1) % RingSize;
        if (_count < RingSize) _count++;
    }

    /// <summary>Bytes per second between the oldest sample inside the window and now.</summary>
    private double Rate(DateTimeOffset now, long bytes)
    {
        var oldest = -1;
        for (var i = 0; i < _count; i++)
        {
            var index = (_next - _count + i + RingSize) % RingSize;
            if (now - _sampleAt[index] <= _window) { oldest = index; break; }
        }
        if (oldest < 0) return 0;
        var seconds = (now - _sampleAt[oldest]).TotalSeconds;
        return seconds <= 0 ? 0 : Math.Max(0, (bytes - _sampleBytes[oldest]) / seconds);
    }
}
