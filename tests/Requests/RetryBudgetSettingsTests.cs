using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>The retry budget's settings: what is refused names the setting, and the smallest valid values work.</summary>
public sealed class RetryBudgetSettingsTests
{
    [Fact]
    public void A_bucket_of_one_token_is_valid_and_an_empty_one_names_RetryBudget_Capacity()
    {
        new RetryBudgetOptions { Capacity = 1 }.Validate();
        var error = Assert.ThrowsAny<ArgumentException>(() => new HttpRuntimeOptions { RetryBudget = { Capacity = 0 } }.Validate());
        Assert.Contains("RetryBudget:Capacity", error.Message);
    }

    [Theory]
    [InlineData(nameof(RetryBudgetOptions.RetryCost))]
    [InlineData(nameof(RetryBudgetOptions.TimeoutRetryCost))]
    [InlineData(nameof(RetryBudgetOptions.SuccessRefund))]
    public void A_negative_cost_or_refund_names_its_own_setting(string setting)
    {
        var options = new RetryBudgetOptions();
        typeof(RetryBudgetOptions).GetProperty(setting)!.SetValue(options, -1);
        var error = Assert.ThrowsAny<ArgumentException>(() => options.Validate());
        Assert.Contains("RetryBudget:" + setting, error.Message);
    }

    [Fact]
    public void Free_retries_and_no_refund_are_valid()
    {
        var options = new RetryBudgetOptions { RetryCost = 0, TimeoutRetryCost = 0, SuccessRefund = 0 };
        options.Validate();
        var budget = new RetryBudget(options);
        Assert.Equal(0, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(0, budget.TryAcquire(afterTimeout: true));
        Assert.Equal(options.Capacity, budget.Available);
    }

    [Fact]
    public void The_last_tokens_pay_for_a_retry_that_costs_exactly_what_is_left()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 10, RetryCost = 5, TimeoutRetryCost = 10 });
        Assert.Equal(5, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(5, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(0, budget.Available);
        Assert.Equal(-1, budget.TryAcquire(afterTimeout: false));
        Assert.Equal(0, budget.Available);
    }

    [Fact]
    public void A_refund_never_fills_the_bucket_past_its_capacity()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Capacity = 10, RetryCost = 3, SuccessRefund = 1 });
        budget.TryAcquire(afterTimeout: false);
        Assert.Equal(7, budget.Available);
        budget.RecordSuccess(lastRetryCost: 5); // gives back more than was taken: capped
        Assert.Equal(10, budget.Available);
        budget.RecordSuccess(lastRetryCost: 0);
        Assert.Equal(10, budget.Available);
    }

    [Fact]
    public void With_the_budget_disabled_nothing_is_spent_or_counted()
    {
        var budget = new RetryBudget(new RetryBudgetOptions { Enabled = false, Capacity = 7 });
        Assert.Equal(0, budget.TryAcquire(afterTimeout: false));
        budget.RecordSuccess(lastRetryCost: 3);
        Assert.Equal(7, budget.Available);
    }
}
