using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>A jitter mode the backoff does not know is refused by name, never read as "no jitter".</summary>
public sealed class UnknownJitterModeTests
{
    [Fact]
    public void An_unknown_jitter_mode_is_refused_naming_the_parameter()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() =>
            Backoff.Compute(0, TimeSpan.FromMilliseconds(100), 2, TimeSpan.FromSeconds(2), (JitterMode)99, TimeSpan.Zero, 0.5));
        Assert.Equal("jitter", error.ParamName);
        Assert.Contains("Unknown jitter mode", error.Message);
    }
}
