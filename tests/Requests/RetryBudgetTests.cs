using Courier.Requests;

namespace Courier.Tests.Requests;

public sealed class RetryBudgetTests
{
    [Fact]
    public void Retries_spend_tokens_until_the_bucket_cannot_pay()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 12, RetryCost = 5, TimeoutRetryCost = 10 });
        Assert.Equal(5, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(5, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(-1, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(2, budget.Available);
    }

    [Fact]
    public void Timeouts_cost_more()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 15, RetryCost = 5, TimeoutRetryCost = 10 });
        Assert.Equal(10, budget.TryAcquire(afterTimeout: true));
        Assert.Equal(-1, budget.TryAcquire(afterTimeout: true));
        Assert.Equal(5, budget.TryAcquire(afterTimeout: false));
    }

    [Fact]
    public void Successes_refill_up_to_capacity()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 10, RetryCost = 5, SuccessRefund = 1 });
        budget.TryAcquire(false);
        budget.TryAcquire(false);
        budget.RecordSuccess(lastRetryCost: 0);
        Assert.Equal(1, budget.Available);
        budget.RecordSuccess(lastRetryCost: 5); // a retried call that succeeded gives back its retry's cost
        Assert.Equal(6, budget.Available);
        for (var i = 0; i < 100; i++) budget.RecordSuccess(0);
        Assert.Equal(10, budget.Available);
    }

    [Fact]
    public void A_disabled_budget_never_refuses()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Enabled = false, Capacity = 1 });
        for (var i = 0; i < 1000; i++) Assert.Equal(0, budget.TryAcquire(true));
    }

    [Fact]
    public void Concurrent_spending_never_goes_below_zero()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 500, RetryCost = 5 });
        var granted = 0;
        Parallel.For(0, 10_000, _ => { if (budget.TryAcquire(false) > 0) Interlocked.Increment(ref granted); });
        Assert.Equal(100, granted);
        Assert.Equal(0, budget.Available);
    }
}
