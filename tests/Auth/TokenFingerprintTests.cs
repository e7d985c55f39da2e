using Courier.Auth;
using Courier.Errors;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>
/// What a token looks like where it can be logged (a pair, a grant, a snapshot): a short fingerprint that tells two tokens
/// apart in a log and cannot be turned back into the token; never the token.
/// </summary>
public sealed class TokenFingerprintTests
{
    [Fact]
    public void A_fingerprint_is_the_first_8_hex_digits_of_the_SHA_256_of_the_token()
    {
        // SHA-256("abc") = ba7816bf 8f01cfea... (FIPS 180-2, appendix B.1).
        Assert.Equal("sha256:ba7816bf", TokenFingerprint.Of("abc"));
        Assert.NotEqual(TokenFingerprint.Of("token-1"), TokenFingerprint.Of("token-2"));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public void No_token_has_no_fingerprint(string? token) => Assert.Equal("(none)", TokenFingerprint.Of(token));

    [Fact]
    public void A_pair_shows_the_fingerprints_of_its_tokens_and_its_expiry()
    {
        var expires = new DateTimeOffset(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);

        Assert.Equal($"TokenPair(access {TokenFingerprint.Of("a-secret")}, refresh {TokenFingerprint.Of("r-secret")}, expires 2026-11-29T08:00:00.0000000+00:00)",
            new TokenPair("a-secret", "r-secret", expires).ToString());
        Assert.Equal($"TokenPair(access {TokenFingerprint.Of("a-secret")}, refresh none, expires unknown)", new TokenPair("a-secret", null).ToString());
    }

    [Fact]
    public void A_grant_and_a_snapshot_show_the_fingerprint_of_their_token_and_its_generation()
    {
        Assert.Equal($"TokenGranted(call 4, {TokenFingerprint.Of("a-secret")}, generation 2)", new TokenGranted(4, "a-secret", 2).ToString());
        Assert.Equal($"TokenSnapshot({TokenFingerprint.Of("a-secret")}, generation 3)", new TokenSnapshot("a-secret", 3, null).ToString());
    }

    [Fact]
    public void A_snapshot_is_usable_until_its_expiry_or_always_when_its_expiry_is_unknown()
    {
        var now = new DateTimeOffset(2026, 11, 29, 8, 0, 0, TimeSpan.Zero);
        Assert.True(new TokenSnapshot("a", 1, null).IsUsableAt(now));
        Assert.True(new TokenSnapshot("a", 1, now.AddTicks(1)).IsUsableAt(now));
        Assert.False(new TokenSnapshot("a", 1, now).IsUsableAt(now));
    }

    [Fact]
    public void An_authentication_failure_names_the_credential_that_failed()
    {
        Assert.Equal("billing", new AuthenticationFailed("refused", new AuthenticationFailedException("refused", credential: "billing")).Credential);
        Assert.Null(new AuthenticationFailed("refused", new AuthenticationFailedException("refused")).Credential);
    }
}
