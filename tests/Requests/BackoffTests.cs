using Courier.Requests;

namespace Courier.Tests.Requests;

public sealed class BackoffTests
{
    private static readonly TimeSpan Base = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan Cap = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan Jitter = TimeSpan.FromMilliseconds(100);

    [Theory]
    [InlineData(0, 100)]
    [InlineData(1, 200)]
    [InlineData(2, 400)]
    [InlineData(3, 800)]
    [InlineData(4, 1600)]
    [InlineData(5, 2000)]
    [InlineData(30, 2000)]
    [InlineData(5000, 2000)]
    public void Exponential_delay_is_capped(int retry, int expectedMs) =>
        Assert.Equal(TimeSpan.FromMilliseconds(expectedMs), Backoff.Compute(retry, Base, 2, Cap, JitterMode.None, Jitter, 0.7));

    [Fact]
    public void Additive_jitter_adds_up_to_MaxJitter_on_top_of_the_capped_delay()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(400), Backoff.Compute(2, Base, 2, Cap, JitterMode.Additive, Jitter, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(450), Backoff.Compute(2, Base, 2, Cap, JitterMode.Additive, Jitter, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(2100), Backoff.Compute(10, Base, 2, Cap, JitterMode.Additive, Jitter, 1));
    }

    [Fact]
    public void Full_jitter_spreads_between_zero_and_the_delay()
    {
        Assert.Equal(TimeSpan.Zero, Backoff.Compute(3, Base, 2, Cap, JitterMode.Full, Jitter, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(200), Backoff.Compute(3, Base, 2, Cap, JitterMode.Full, Jitter, 0.25));
    }

    [Fact]
    public void Equal_jitter_keeps_half_the_delay()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(400), Backoff.Compute(3, Base, 2, Cap, JitterMode.Equal, Jitter, 0));
        Assert.Equal(TimeSpan.FromMilliseconds(600), Backoff.Compute(3, Base, 2, Cap, JitterMode.Equal, Jitter, 0.5));
    }

    [Fact]
    public void Random_values_outside_the_unit_interval_are_clamped()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(200), Backoff.Compute(1, Base, 2, Cap, JitterMode.Additive, Jitter, -3));
        Assert.Equal(TimeSpan.FromMilliseconds(300), Backoff.Compute(1, Base, 2, Cap, JitterMode.Additive, Jitter, 7));
        Assert.Equal(TimeSpan.FromMilliseconds(200), Backoff.Compute(1, Base, 2, Cap, JitterMode.Additive, Jitter, double.NaN));
    }

    [Fact]
    public void Options_overload_uses_the_axios_defaults()
    {
        var options = new RetryOptions();
        Assert.Equal(2, options.MaxRetries);
        Assert.Equal(TimeSpan.FromMilliseconds(150), Backoff.Compute(0, options, 0.5));
        Assert.Equal(TimeSpan.FromMilliseconds(2050), Backoff.Compute(8, options, 0.5));
    }

    [Fact]
    public void Negative_retry_numbers_are_rejected() =>
        Assert.Throws<ArgumentOutOfRangeException>(() => Backoff.Compute(-1, Base, 2, Cap, JitterMode.None, Jitter, 0));
}
