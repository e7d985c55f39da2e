namespace Courier.Requests.Hosts;

/// <summary>
/// One host's circuit breaker, a pure state machine driven by the time passed in: <b>Closed</b> counts consecutive
/// failures; at the threshold it turns <b>Open</b> for the break duration, during which every call fails fast; then
/// the first call admitted is a <b>HalfOpen</b> probe (others still fail fast while it runs): its success closes the
/// circuit, its failure opens it again for another break duration.
/// </summary>
internal sealed class CircuitBreaker
{
    private readonly int _threshold;
    private readonly TimeSpan _breakDuration;
    private int _consecutiveFailures;

    public CircuitBreaker(int threshold, TimeSpan breakDuration)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        if (breakDuration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(breakDuration), breakDuration, "The break duration must be positive.");
        _threshold = threshold;
        _breakDuration = breakDuration;
    }

    /// <summary>The state now.</summary>
    public CircuitState State { get; private set; } = CircuitState.Closed;

    /// <summary>While open: when the next probe may go.</summary>
    public DateTimeOffset OpenUntil { get; private set; }

    /// <summary>Whether a call may go at <paramref name="now"/>; <paramref name="isProbe"/> says it is the half-open probe.</summary>
    public bool TryPass(DateTimeOffset now, out bool isProbe)
    {
        isProbe = false;
        switch (State)
        {
            case CircuitState.Closed:
                return true;
            case CircuitState.Open when now >= OpenUntil:
                State = CircuitState.HalfOpen;
                isProbe = true;
                return true;
            default:
                return false; // open, or half-open with its probe in flight
        }
    }

    /// <summary>The host answered.</summary>
    public void OnSuccess()
    {
        _consecutiveFailures = 0;
        State = CircuitState.Closed;
    }

    /// <summary>The host failed at <paramref name="now"/>; <paramref name="wasProbe"/> says it was the half-open probe.</summary>
    public void OnFailure(DateTimeOffset now, bool wasProbe)
    {
        if (State == CircuitState.HalfOpen && !wasProbe) return; // a straggler admitted before the circuit opened
        if (State == CircuitState.Open) return; // idem: the circuit is already open, the break duration stays
        _consecutiveFailures++;
        if (wasProbe || _consecutiveFailures >= _threshold)
        {
            State = CircuitState.Open;
            OpenUntil = now + _breakDuration;
        }
    }

    /// <summary>A probe ended without saying anything about the host (cancelled): let the next call probe.</summary>
    public void OnProbeAbandoned(DateTimeOffset now)
    {
        if (State == CircuitState.HalfOpen)
        {
            State = CircuitState.Open;
            OpenUntil = now;
        }
    }
}

/// <summary>The states of a <see cref="CircuitBreaker"/>.</summary>
public enum CircuitState
{
    /// <summary>Calls go; consecutive failures are counted.</summary>
    Closed,
    /// <summary>Calls fail fast until the break duration has passed.</summary>
    Open,
    /// <summary>One probe call is in flight; others fail fast until it ends.</summary>
    HalfOpen,
}
