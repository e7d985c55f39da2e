namespace Courier.Requests;

/// <summary>
/// The client-wide retry budget: a token bucket in the manner of the AWS SDKs' "standard" retry mode
/// (and gRPC retry throttling). A retry spends tokens, a success gives some back. During an outage the bucket
/// empties and calls fail fast instead of multiplying load on a server that is already down.
/// </summary>
public sealed class RetryBudgetOptions
{
    /// <summary>Turns the budget on or off.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool Enabled { get; set; } = true;

    /// <summary>Tokens in a full bucket; the bucket starts full.</summary>
    /// <value>The default value is 500.</value>
    public int Capacity { get; set; } = 500;

    /// <summary>Tokens a retry after an error response or a transport failure costs.</summary>
    /// <value>The default value is 5.</value>
    public int RetryCost { get; set; } = 5;

    /// <summary>Tokens a retry after a timeout costs (timeouts hint at an overloaded server).</summary>
    /// <value>The default value is 10.</value>
    public int TimeoutRetryCost { get; set; } = 10;

    /// <summary>Tokens a call that succeeds at its first attempt gives back (a call that succeeds after retries gives back what its last retry cost).</summary>
    /// <value>The default value is 1.</value>
    public int SuccessRefund { get; set; } = 1;

    internal void Validate()
    {
        if (Capacity < 1) throw new ArgumentOutOfRangeException(nameof(Capacity), Capacity, "RetryBudget:Capacity must be at least 1.");
        if (RetryCost < 0) throw new ArgumentOutOfRangeException(nameof(RetryCost), RetryCost, "RetryBudget:RetryCost must not be negative.");
        if (TimeoutRetryCost < 0) throw new ArgumentOutOfRangeException(nameof(TimeoutRetryCost), TimeoutRetryCost, "RetryBudget:TimeoutRetryCost must not be negative.");
        if (SuccessRefund < 0) throw new ArgumentOutOfRangeException(nameof(SuccessRefund), SuccessRefund, "RetryBudget:SuccessRefund must not be negative.");
    }
}

/// <summary>The thread-safe token bucket shared by every call of one runtime.</summary>
internal sealed class RetryBudget
{
    private readonly bool _enabled;
    private readonly int _capacity;
    private readonly int _retryCost;
    private readonly int _timeoutCost;
    private readonly int _refund;
    private int _tokens;

    public RetryBudget(RetryBudgetOptions options)
    {
        _enabled = options.Enabled;
        _capacity = options.Capacity;
        _retryCost = options.RetryCost;
        _timeoutCost = options.TimeoutRetryCost;
        _refund = options.SuccessRefund;
        _tokens = options.Capacity;
    }

    public int Available => Volatile.Read(ref _tokens);

    /// <summary>Spends the cost of one retry; false when the bucket cannot pay it.</summary>
    /// <returns>The tokens spent (0 when the budget is off), or -1 when the budget is exhausted.</returns>
    public int TryAcquire(bool afterTimeout)
    {
        if (!_enabled) return 0;
        var cost = afterTimeout ? _timeoutCost : _retryCost;
        while (true)
        {
            var current = Volatile.Read(ref _tokens);
            if (current < cost) return -1;
            if (Interlocked.CompareExchange(ref _tokens, current - cost, current) == current) return cost;
        }
    }

    /// <summary>Gives tokens back after a success: <paramref name="lastRetryCost"/> if the call was retried, else the refund.</summary>
    public void RecordSuccess(int lastRetryCost)
    {
        if (!_enabled) return;
        var amount = lastRetryCost > 0 ? lastRetryCost : _refund;
        if (amount == 0) return;
        while (true)
        {
            var current = Volatile.Read(ref _tokens);
            if (current >= _capacity) return;
            var next = Math.Min(_capacity, current + amount);
            if (Interlocked.CompareExchange(ref _tokens, next, current) == current) return;
        }
    }
}
