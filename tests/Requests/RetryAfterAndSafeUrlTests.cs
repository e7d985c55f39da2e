using Courier.Diagnostics;
using Courier.Requests;

namespace Courier.Tests.Requests;

public sealed class RetryAfterAndSafeUrlTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    [Theory]
    [InlineData("0", 0)]
    [InlineData("7", 7)]
    [InlineData(" 120 ", 120)]
    [InlineData("Wed, 25 Nov 2026 12:00:30 GMT", 30)]
    [InlineData("Wed, 25 Nov 2026 11:59:00 GMT", 0)]
    public void Reads_both_forms(string raw, int seconds) =>
        Assert.Equal(TimeSpan.FromSeconds(seconds), RetryAfter.ParseRaw(raw, Now));

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("-5")]
    [InlineData("soon")]
    [InlineData("1.5")]
    public void Unreadable_values_are_ignored(string? raw) => Assert.Null(RetryAfter.ParseRaw(raw, Now));

    [Theory]
    [InlineData("https://user:pw@api.example.com/a/b?token=abc&page=2#frag", "https://api.example.com/a/b?token=***&page=***")]
    [InlineData("http://127.0.0.1:8080/x", "http://127.0.0.1:8080/x")]
    [InlineData("https://api.example.com/x?flag", "https://api.example.com/x?flag")]
    public void Urls_lose_user_info_and_query_values(string url, string expected) =>
        Assert.Equal(expected, SafeUrl.Format(new Uri(url)));
}
