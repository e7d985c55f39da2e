using Courier.Host.Transfers;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>The plain progress lines: one per 10 % of a known total, else one a second at most, and the last one.</summary>
public sealed class ProgressLinesTests
{
    private readonly List<string> _lines = [];
    private TimeSpan _now;

    private ProgressLines Create() => new("download x", _lines.Add, () => _now);

    private static TransferProgress At(long bytes, long? total) =>
        new(1, TransferDirection.Download, bytes, bytes, total, 1024 * 1024, total is null ? null : TimeSpan.FromSeconds(3));

    [Fact]
    public void A_fast_transfer_prints_one_line_per_ten_percent_and_the_last()
    {
        var lines = Create();
        for (var percent = 0; percent <= 100; percent++)
        {
            _now += TimeSpan.FromMilliseconds(10);
            lines.Report(At(percent * 1000, 100_000));
        }
        lines.Report(At(100_000, 100_000)); // a repeated final report prints nothing more

        Assert.Equal(10, _lines.Count);
        Assert.StartsWith("download x: 9.8 KiB / 97.7 KiB (10 %)", _lines[0]);
        Assert.Contains("(100 %)", _lines[^1]);
    }

    [Fact]
    public void A_slow_transfer_or_one_of_unknown_size_prints_at_most_one_line_a_second()
    {
        var lines = Create();
        for (var step = 1; step <= 50; step++)
        {
            _now += TimeSpan.FromMilliseconds(100);
            lines.Report(At(step * 1000, null));
        }

        Assert.Equal(5, _lines.Count); // 5 s
        Assert.All(_lines, l => Assert.Contains("/ size unknown, 1.0 MiB/s", l));
        Assert.DoesNotContain("ETA", _lines[0]);
    }
}
