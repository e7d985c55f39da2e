using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>The refresh decision and the expiry clamp, as pure functions: no actor, no clock.</summary>
public sealed class RefreshDecisionTests
{
    private static readonly DateTimeOffset Now = new(2026, 1, 1, 12, 0, 0, TimeSpan.Zero);

    private static TimeSpan Delay(int retry) => TimeSpan.FromMilliseconds(100 * (retry + 1));

    private static RefreshDecision Decide(TokenRefreshResult result, int attempt, int maxRetries = 3) =>
        RefreshDecision.Decide(result, attempt, "refresh-1", maxRetries, Delay, Now);

    [Fact]
    public void A_new_pair_is_adopted_with_its_rotated_refresh_token_and_expiry()
    {
        var decision = Decide(new TokenRefreshResult.Refreshed("token-2", "refresh-2", TimeSpan.FromSeconds(300)), attempt: 2);
        Assert.Equal(new RefreshDecision.Adopt(new TokenPair("token-2", "refresh-2", Now.AddSeconds(300)), 2), decision);
    }

    [Fact]
    public void An_answer_without_a_refresh_token_keeps_the_one_that_was_sent()
    {
        var decision = Assert.IsType<RefreshDecision.Adopt>(Decide(new TokenRefreshResult.Refreshed("token-2", null, null), attempt: 1));
        Assert.Equal(new TokenPair("token-2", "refresh-1", null), decision.Pair);
    }

    [Fact]
    public void A_refusal_signs_out_whatever_the_attempt()
    {
        Assert.Equal(new RefreshDecision.SignOut("invalid_grant", 4), Decide(new TokenRefreshResult.Rejected("invalid_grant"), attempt: 4));
    }

    [Theory]
    [InlineData(1, 3, 100)]
    [InlineData(2, 3, 200)]
    [InlineData(3, 3, 300)] // the last retry still goes out: attempt 4 is the last request
    public void A_passing_failure_with_retries_left_is_retried_after_the_backoff_of_that_retry(int attempt, int maxRetries, int delayMs)
    {
        var error = new TokenRefreshResult.Failed("503");
        Assert.Equal(new RefreshDecision.RetryAfter(TimeSpan.FromMilliseconds(delayMs), "503", attempt), Decide(error, attempt, maxRetries));
    }

    [Theory]
    [InlineData(4, 3)]
    [InlineData(1, 0)]
    public void A_passing_failure_of_the_last_attempt_gives_up(int attempt, int maxRetries)
    {
        var cause = new HttpRequestException("refused");
        Assert.Equal(new RefreshDecision.GiveUp("503", attempt, cause), Decide(new TokenRefreshResult.Failed("503", cause), attempt, maxRetries));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    public void A_token_already_expired_on_arrival_has_no_expiry_and_is_used_until_refused(int seconds)
    {
        Assert.Null(RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed("t", null, TimeSpan.FromSeconds(seconds)), Now));
    }

    [Fact]
    public void A_jwt_whose_exp_has_passed_by_this_clock_has_no_expiry()
    {
        var past = Jwt(Now.AddSeconds(-1));
        Assert.Null(RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(past, null, null), Now));
        var future = Jwt(Now.AddSeconds(90));
        Assert.Equal(Now.AddSeconds(90), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(future, null, null), Now));
    }

    [Fact]
    public void A_huge_lifetime_is_clamped_to_ten_years_instead_of_overflowing()
    {
        Assert.Equal(Now + TimeSpan.FromDays(3650), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed("t", null, TimeSpan.MaxValue), Now));
        Assert.Equal(Now.AddSeconds(1), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed("t", null, TimeSpan.FromSeconds(1)), Now));
    }

    [Fact]
    public void A_jwt_that_expires_this_very_second_has_no_expiry()
    {
        Assert.Null(RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(Jwt(Now), null, null), Now));
    }

    [Fact]
    public void A_jwt_whose_exp_is_decades_away_is_clamped_to_ten_years()
    {
        var far = Jwt(Now.AddYears(40));
        Assert.Equal(Now + TimeSpan.FromDays(3650), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(far, null, null), Now));
        var withinTenYears = Jwt(Now.AddDays(3649));
        Assert.Equal(Now.AddDays(3649), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(withinTenYears, null, null), Now));
    }

    [Fact]
    public void An_expires_in_wins_over_the_jwts_exp()
    {
        var jwt = Jwt(Now.AddSeconds(900));
        Assert.Equal(Now.AddSeconds(60), RefreshDecision.ExpiryOf(new TokenRefreshResult.Refreshed(jwt, null, TimeSpan.FromSeconds(60)), Now));
    }

    private static string Jwt(DateTimeOffset exp)
    {
        static string Part(string json) => Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');
        return Part("{\"alg\":\"none\"}") + "." + Part($"{{\"exp\":{exp.ToUnixTimeSeconds()}}}") + ".sig";
    }
}
