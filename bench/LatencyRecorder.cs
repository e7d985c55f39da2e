using System.Diagnostics;

namespace Courier.Bench;

/// <summary>
/// Per-call latencies of one run, in <see cref="Stopwatch"/> ticks: a preallocated array indexed by call number.
/// </summary>
/// <remarks>
/// An exact sorted array rather than a histogram: a run is at most a few hundred thousand calls (8 bytes each), the
/// array is allocated before the allocation baseline is taken and reused across runs, and recording is one store
/// to a slot no other worker touches (each call number is handed out once), so it needs no lock and allocates nothing.
/// </remarks>
internal sealed class LatencyRecorder(int capacity)
{
    private readonly long[] _ticks = new long[capacity];
    private int _count;

    public int Capacity => _ticks.Length;

    /// <summary>Starts a run of <paramref name="count"/> calls.</summary>
    public void Reset(int count)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, _ticks.Length);
        Array.Clear(_ticks, 0, count);
        _count = count;
    }

    /// <summary>Records the latency of call <paramref name="index"/> (0-based, unique within the run).</summary>
    public void Record(int index, long elapsedTicks) => _ticks[index] = elapsedTicks;

    /// <summary>Sorts the run's latencies (call after the run; the recorder is then ready for <see cref="Reset"/>).</summary>
    public LatencySummary Summarize()
    {
        var span = _ticks.AsSpan(0, _count);
        if (span.IsEmpty) return default;
        span.Sort();
        return new LatencySummary(ToMs(Percentile(span, 0.50)), ToMs(Percentile(span, 0.99)), ToMs(span[^1]));
    }

    /// <summary>Nearest-rank percentile: the smallest value with at least <paramref name="p"/> of the values at or below it.</summary>
    private static long Percentile(ReadOnlySpan<long> sorted, double p)
    {
        var rank = (int)Math.Ceiling(p * sorted.Length);
        return sorted[Math.Clamp(rank - 1, 0, sorted.Length - 1)];
    }

    private static double ToMs(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}

/// <summary>Latency percentiles of one run, in milliseconds.</summary>
internal readonly record struct LatencySummary(double P50Ms, double P99Ms, double MaxMs);
