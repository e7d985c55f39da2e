using System.Net;
using Courier.Requests.Hosts;
using Xunit;

namespace Courier.Tests.Requests.Hosts;

/// <summary>The rate-limit fields of a response, each form, read into one status; malformed ones ignored.</summary>
public sealed class RateLimitHeadersTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 29, 10, 0, 0, TimeSpan.Zero);

    private static RateLimitStatus? Read(params (string Name, string Value)[] headers)
    {
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        foreach (var (name, value) in headers) response.Headers.TryAddWithoutValidation(name, value);
        return RateLimitHeaders.Parse(response.Headers, Now);
    }

    [Fact]
    public void A_response_without_rate_limit_fields_announces_nothing()
    {
        Assert.Null(Read());
        Assert.Null(Read(("Retry-After", "5"), ("Request-Id", "x"), ("X-Request-Id", "y")));
    }

    [Fact]
    public void The_IETF_fields_give_the_remaining_quota_its_reset_and_the_policy()
    {
        var status = Read(("RateLimit-Policy", "\"default\";q=100;w=60"), ("RateLimit", "\"default\";r=50;t=30"));
        Assert.Equal(new RateLimitStatus(50, TimeSpan.FromSeconds(30), 100, TimeSpan.FromSeconds(60)), status);
    }

    [Fact]
    public void Of_several_IETF_limits_the_one_with_nothing_left_counts_and_of_several_policies_the_tightest_rate()
    {
        var status = Read(
            ("RateLimit-Policy", "\"burst\";q=100;w=60, \"daily\";q=1000;w=86400"),
            ("RateLimit", "\"burst\";r=40;t=10, \"daily\";r=0;t=3600"));
        Assert.Equal(0, status!.Value.Remaining);
        Assert.Equal(TimeSpan.FromHours(1), status.Value.Reset);
        Assert.Equal(1000, status.Value.Quota); // 1,000 a day is a lower rate than 100 a minute
        Assert.Equal(TimeSpan.FromDays(1), status.Value.Window);

        // Split over two field lines, tokens for names, unknown parameters as comments; the least remaining wins.
        var split = Read(("RateLimit", "perminute;r=7;t=20;acme-note=\"x\""), ("RateLimit", "persecond;r=2;t=1"));
        Assert.Equal(new RateLimitStatus(2, TimeSpan.FromSeconds(1), null, null), split);
    }

    [Fact]
    public void A_policy_counted_in_other_units_than_requests_and_its_limits_are_skipped()
    {
        var status = Read(
            ("RateLimit-Policy", "\"bytes\";q=65535;qu=\"content-bytes\";w=1, \"calls\";q=10;w=1;qu=\"requests\""),
            ("RateLimit", "\"bytes\";r=0;t=5, \"calls\";r=9;t=1"));
        Assert.Equal(new RateLimitStatus(9, TimeSpan.FromSeconds(1), 10, TimeSpan.FromSeconds(1)), status);
    }

    [Fact]
    public void The_older_draft_gives_remaining_and_a_reset_in_delta_seconds_and_its_policy_form()
    {
        Assert.Equal(new RateLimitStatus(0, TimeSpan.FromSeconds(7), 100, TimeSpan.FromSeconds(1)),
            Read(("RateLimit-Limit", "100"), ("RateLimit-Remaining", "0"), ("RateLimit-Reset", "7"), ("RateLimit-Policy", "100;w=1")));
        // draft-03: the policy inline in RateLimit-Limit; one value per policy in Remaining, the first in force.
        Assert.Equal(new RateLimitStatus(5, TimeSpan.FromSeconds(2), 10, TimeSpan.FromSeconds(1)),
            Read(("RateLimit-Limit", "10, 10;w=1, 50;w=60"), ("RateLimit-Remaining", "5"), ("RateLimit-Reset", "2")));
    }

    [Fact]
    public void The_vendor_reset_is_delta_seconds_when_small_and_an_epoch_timestamp_when_large()
    {
        Assert.Equal(new RateLimitStatus(0, TimeSpan.FromSeconds(42), null, null),
            Read(("X-RateLimit-Limit", "60"), ("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "42")));
        // GitHub: epoch seconds.
        var epoch = Now.AddSeconds(90).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromSeconds(90), Read(("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", epoch))!.Value.Reset);
        // Epoch with a fraction (Discord), and epoch milliseconds.
        var fraction = (Now.AddSeconds(2.5).ToUnixTimeMilliseconds() / 1000m).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromSeconds(2.5), Read(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", fraction))!.Value.Reset);
        var millis = Now.AddSeconds(3).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.FromSeconds(3), Read(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", millis))!.Value.Reset);
        // A timestamp already past: the quota is back now.
        var past = Now.AddSeconds(-30).ToUnixTimeSeconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(TimeSpan.Zero, Read(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", past))!.Value.Reset);
        // Just under the epoch threshold is still a delay (and capped later, as any pause is).
        Assert.Equal(TimeSpan.FromSeconds(RateLimitHeaders.EpochSecondsFrom - 1),
            Read(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", (RateLimitHeaders.EpochSecondsFrom - 1).ToString(System.Globalization.CultureInfo.InvariantCulture)))!.Value.Reset);
    }

    [Fact]
    public void The_IETF_form_wins_over_the_older_one_which_wins_over_the_vendor_one()
    {
        Assert.Equal(3, Read(("X-RateLimit-Remaining", "1"), ("RateLimit-Remaining", "2"), ("RateLimit", "\"d\";r=3;t=1"))!.Value.Remaining);
        Assert.Equal(2, Read(("X-RateLimit-Remaining", "1"), ("RateLimit-Remaining", "2"))!.Value.Remaining);
        // A malformed IETF field falls back to the next form.
        Assert.Equal(2, Read(("RateLimit", "\"d\";r=;t=1"), ("RateLimit-Remaining", "2"))!.Value.Remaining);
    }

    [Theory]
    [InlineData("RateLimit", "\"default\";r=-1;t=5")] // negative
    [InlineData("RateLimit", "\"default\";r=5.5;t=5")] // a decimal where an integer is required
    [InlineData("RateLimit", "\"default\";t=5")] // r is required
    [InlineData("RateLimit", "\"unterminated;r=0;t=5")]
    [InlineData("RateLimit", "\"default\";r=0;t=5,")] // a trailing comma
    [InlineData("RateLimit", "(\"inner\" \"list\");r=0")]
    [InlineData("RateLimit", "\"default\";R=0;t=5")] // keys are lower case
    [InlineData("RateLimit", "\"default\";r=9999999999999999;t=5")] // more than 15 digits
    [InlineData("RateLimit", "\"default\";r=0;t=5 junk")]
    [InlineData("RateLimit", "")]
    [InlineData("RateLimit-Remaining", "lots")]
    [InlineData("RateLimit-Remaining", "-3")]
    [InlineData("X-RateLimit-Remaining", "1e3")]
    [InlineData("X-RateLimit-Remaining", "99999999999999999999999")]
    [InlineData("RateLimit-Policy", "\"default\";q=abc;w=60")]
    [InlineData("RateLimit-Policy", "\"default\";q=100;w=0")] // a window must be positive
    [InlineData("RateLimit-Policy", "\"default\";w=60")] // q is required
    [InlineData("RateLimit-Policy", "100;w=-1")]
    public void A_malformed_field_is_ignored_without_an_exception(string name, string value)
    {
        Assert.Null(Read((name, value)));
    }

    [Theory]
    [InlineData("soon")]
    [InlineData("-5")]
    [InlineData("99999999999999999999999999")]
    [InlineData("1.2.3")]
    public void A_malformed_reset_leaves_the_remaining_count_without_a_reset(string reset)
    {
        Assert.Equal(new RateLimitStatus(0, null, null, null), Read(("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", reset)));
    }

    [Fact]
    public void A_status_read_earlier_has_its_reset_counted_from_when_the_answer_arrived()
    {
        var status = new RateLimitStatus(0, TimeSpan.FromSeconds(3), null, null);
        Assert.Equal(TimeSpan.FromSeconds(2), status.After(TimeSpan.FromSeconds(1)).Reset);
        Assert.Equal(TimeSpan.Zero, status.After(TimeSpan.FromSeconds(5)).Reset);
        Assert.Equal(status, status.After(TimeSpan.Zero));
    }
    [Fact]
    public void Reading_a_response_without_rate_limit_fields_allocates_nothing()
    {
        // Every answer is read (issue 13 counts the bytes a call allocates): the common answer, without these fields, is free.
        using var response = new HttpResponseMessage(HttpStatusCode.OK);
        response.Headers.TryAddWithoutValidation("Server", "Kestrel");
        response.Headers.TryAddWithoutValidation("Date", "Sun, 29 Nov 2026 10:00:00 GMT");
        response.Headers.TryAddWithoutValidation("X-Request-Id", "abc");
        response.Headers.TryAddWithoutValidation("Retry-After", "1");
        for (var i = 0; i < 100; i++) RateLimitHeaders.Parse(response.Headers, Now); // warmed up
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++) Assert.Null(RateLimitHeaders.Parse(response.Headers, Now));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
