using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Transfers;

public sealed class ProgressMeterTests
{
    private static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    private static ProgressMeter Meter(double step = 0.01) =>
        new(7, TransferDirection.Download, TimeSpan.FromMilliseconds(100), step, TimeSpan.FromSeconds(3), T0, 0);

    [Fact]
    public void Publishes_at_most_every_interval_when_the_step_is_off()
    {
        var meter = Meter(step: 0);
        Assert.NotNull(meter.Observe(10, 10, 1000, T0));
        Assert.Null(meter.Observe(20, 20, 1000, T0.AddMilliseconds(50)));
        Assert.Null(meter.Observe(30, 30, 1000, T0.AddMilliseconds(99)));
        Assert.Equal(40, meter.Observe(40, 40, 1000, T0.AddMilliseconds(100))!.BytesTransferred);
    }

    [Fact]
    public void A_step_of_the_total_publishes_before_the_interval()
    {
        var meter = Meter(step: 0.01);
        Assert.NotNull(meter.Observe(0, 0, 10_000, T0));
        Assert.Null(meter.Observe(99, 99, 10_000, T0));
        Assert.NotNull(meter.Observe(100, 100, 10_000, T0));
    }

    [Fact]
    public void Never_goes_backwards_and_always_publishes_the_final()
    {
        var meter = Meter();
        meter.Observe(500, 500, 1000, T0);
        var after = meter.Observe(100, 100, 1000, T0.AddSeconds(1)); // a restart from zero
        Assert.Null(after);
        var final = meter.Observe(1000, 1000, 1000, T0.AddSeconds(2), final: true)!;
        Assert.Equal(1000, final.BytesTransferred);
        Assert.Equal(TimeSpan.Zero, final.Eta);
        Assert.NotNull(meter.Observe(1000, 1000, 1000, T0.AddSeconds(2), final: true));
    }

    [Fact]
    public void Rate_and_eta_over_the_window()
    {
        var meter = Meter(step: 0);
        meter.Observe(0, 0, 10_000, T0);
        var progress = meter.Observe(1000, 1000, 10_000, T0.AddSeconds(1))!;
        Assert.Equal(1000, progress.BytesPerSecond, 3);
        Assert.Equal(TimeSpan.FromSeconds(9), progress.Eta);
        Assert.Equal(0.1, progress.Fraction!.Value, 3);
    }

    [Fact]
    public void Unknown_total_stays_unknown_with_no_eta()
    {
        var meter = Meter();
        meter.Observe(0, 0, null, T0);
        var progress = meter.Observe(5000, 5000, null, T0.AddSeconds(1))!;
        Assert.False(progress.TotalKnown);
        Assert.Null(progress.TotalBytes);
        Assert.Null(progress.Eta);
        Assert.Null(progress.Fraction);
        Assert.True(progress.BytesPerSecond > 0);
    }

    [Fact]
    public void A_restart_does_not_count_the_resumed_prefix_as_speed()
    {
        var meter = Meter(step: 0);
        meter.Restart(T0, 1_000_000);
        var progress = meter.Observe(1_001_000, 1_001_000, 2_000_000, T0.AddSeconds(1))!;
        Assert.Equal(1000, progress.BytesPerSecond, 3);
    }
    [Fact]
    public void Reports_heard_late_in_a_burst_do_not_read_as_a_huge_rate()
    {
        // 100 MB moved in the first second, but the actor heard of it late: a hundred 1 % reports within 0.1 s. The rate is
        // what moved over the window (about 100 MB/s), not 1 MB per millisecond between two reports of the burst.
        var meter = Meter(step: 0.01);
        meter.Observe(0, 0, 100_000_000, T0);
        TransferProgress? last = null;
        for (var i = 1; i <= 100; i++)
            last = meter.Observe(i * 1_000_000L, i * 1_000_000L, 100_000_000, T0.AddSeconds(1).AddMilliseconds(i)) ?? last;
        Assert.Equal(100_000_000, last!.BytesTransferred);
        Assert.InRange(last.BytesPerSecond, 80_000_000, 100_000_000);
    }
}
