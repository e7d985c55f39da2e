namespace Courier.Requests.Hosts;

/// <summary>
/// Additive-increase / multiplicative-decrease concurrency limit, as TCP's congestion window and Netflix
/// concurrency-limits' <c>AIMDLimit</c>: a drop (429, 503, timeout) multiplies the limit by <c>backoffRatio</c>
/// (rounded down, never below 1); a success while the window is at least half used adds 1 (never above the cap).
/// Like TCP, the limit is cut at most once per window: drops of attempts admitted before the last cut were sent under
/// the old window and say nothing new, so 200 simultaneous 429s halve the window once, not 200 times.
/// Pure and single-threaded; the caller owns it.
/// </summary>
internal sealed class AimdLimit
{
    private readonly int _cap;
    private readonly double _backoffRatio;
    private long _lastCutSequence = -1;

    public AimdLimit(int cap, double backoffRatio, int? initial = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cap, 1);
        if (backoffRatio is <= 0 or >= 1) throw new ArgumentOutOfRangeException(nameof(backoffRatio), backoffRatio, "The backoff ratio must be in (0, 1).");
        _cap = cap;
        _backoffRatio = backoffRatio;
        Limit = Math.Clamp(initial ?? cap, 1, cap);
    }

    /// <summary>The current limit, in [1, cap].</summary>
    public int Limit { get; private set; }

    /// <summary>A success of an attempt; <paramref name="inFlight"/> is the number in flight when it ended (itself included).</summary>
    public void OnSuccess(int inFlight)
    {
        // Only grow when the window is really used (Netflix's "app-limited" check): a host given 3 calls at a time
        // must not earn a window of 256 it never tested.
        if (inFlight * 2 >= Limit && Limit < _cap) Limit++;
    }

    /// <summary>A drop of the attempt admitted as number <paramref name="admittedSequence"/>; <paramref name="nextSequence"/> is the number the next admission will get.</summary>
    /// <returns>Whether the limit was cut.</returns>
    public bool OnDrop(long admittedSequence, long nextSequence)
    {
        if (admittedSequence <= _lastCutSequence) return false;
        _lastCutSequence = nextSequence - 1;
        Limit = Math.Max(1, (int)Math.Floor(Limit * _backoffRatio));
        return true;
    }
}
