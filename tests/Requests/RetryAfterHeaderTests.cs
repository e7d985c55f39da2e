using System.Net.Http.Headers;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>The wait a response's <c>Retry-After</c> header asks for, read from the response headers as the runtime gets them.</summary>
public sealed class RetryAfterHeaderTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private static HttpResponseHeaders Headers(Action<HttpResponseHeaders> set)
    {
        var response = new HttpResponseMessage();
        set(response.Headers);
        return response.Headers;
    }

    [Fact]
    public void No_header_means_no_wait_asked()
    {
        Assert.Null(RetryAfter.Parse(Headers(_ => { }), Now));
    }

    [Fact]
    public void Seconds_are_the_wait()
    {
        Assert.Equal(TimeSpan.FromSeconds(42), RetryAfter.Parse(Headers(h => h.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(42))), Now));
    }

    [Fact]
    public void A_date_is_the_time_left_until_it_and_a_past_date_is_no_wait()
    {
        Assert.Equal(TimeSpan.FromSeconds(90), RetryAfter.Parse(Headers(h => h.RetryAfter = new RetryConditionHeaderValue(Now.AddSeconds(90))), Now));
        Assert.Equal(TimeSpan.Zero, RetryAfter.Parse(Headers(h => h.RetryAfter = new RetryConditionHeaderValue(Now.AddSeconds(-90))), Now));
    }

    [Fact]
    public void A_negative_delta_set_in_code_is_no_wait()
    {
        Assert.Equal(TimeSpan.Zero, RetryAfter.Parse(Headers(h => h.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(-5))), Now));
    }

    [Fact]
    public void A_number_of_seconds_too_large_for_HttpClient_is_still_read_and_never_overflows()
    {
        var headers = Headers(h => h.TryAddWithoutValidation("Retry-After", "99999999999999999"));
        var wait = RetryAfter.Parse(headers, Now);
        Assert.NotNull(wait);
        Assert.True(wait > TimeSpan.FromDays(10_000));
    }

    [Fact]
    public void A_value_neither_form_reads_is_ignored()
    {
        Assert.Null(RetryAfter.Parse(Headers(h => h.TryAddWithoutValidation("Retry-After", "in a while")), Now));
    }

    [Fact]
    public void The_raw_date_form_is_read_against_the_given_clock()
    {
        Assert.Equal(TimeSpan.FromSeconds(30), RetryAfter.ParseRaw("Wed, 25 Nov 2026 12:00:30 GMT", Now));
        Assert.Equal(TimeSpan.Zero, RetryAfter.ParseRaw("Wed, 25 Nov 2026 12:00:00 GMT", Now));
        Assert.Equal(TimeSpan.FromSeconds(5), RetryAfter.ParseRaw("\t5\t", Now));
    }
}
