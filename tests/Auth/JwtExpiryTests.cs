using System.Text;
using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>
/// The expiry of a JWT access token (RFC 7519 §4.1.4 <c>exp</c>, a NumericDate: seconds since the epoch, fractions
/// allowed), read without validating the token; anything else is an unknown expiry, never an exception.
/// </summary>
public sealed class JwtExpiryTests
{
    internal static string Segment(string json) => Convert.ToBase64String(Encoding.UTF8.GetBytes(json)).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    /// <summary>A JWT (RFC 7519) with <paramref name="payload"/> as its claims; the signature is not checked by anyone here.</summary>
    internal static string Jwt(string payload, string signature = "c2lnbmF0dXJl") =>
        Segment("""{"alg":"RS256","typ":"JWT"}""") + "." + Segment(payload) + "." + signature;

    [Fact]
    public void The_exp_claim_is_the_expiry()
    {
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000),
            JwtExpiry.TryRead(Jwt("""{"sub":"user-1","iat":1899996400,"exp":1900000000,"scope":"a b"}""")));
    }

    [Fact]
    public void A_fractional_exp_keeps_its_milliseconds()
    {
        // RFC 7519 §2: a NumericDate may have fractional seconds.
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1_900_000_000_250), JwtExpiry.TryRead(Jwt("""{"exp":1900000000.25}""")));
    }

    [Fact]
    public void An_unsigned_JWT_with_an_empty_signature_still_has_its_expiry()
    {
        // RFC 7519 §6.1: an unsecured JWT ends with a '.' and nothing after it.
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000), JwtExpiry.TryRead(Jwt("""{"exp":1900000000}""", signature: "")));
    }

    [Fact]
    public void A_payload_in_padded_base64url_is_read_too()
    {
        var payload = Convert.ToBase64String(Encoding.UTF8.GetBytes("""{"exp": 1900000000}""")).Replace('+', '-').Replace('/', '_');
        Assert.EndsWith("=", payload);
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000), JwtExpiry.TryRead(Segment("""{"alg":"none"}""") + "." + payload + "."));
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    [InlineData("opaque-access-token")] // not a JWT: many servers issue opaque tokens
    [InlineData("one.part")]
    public void A_token_that_is_not_a_JWT_has_an_unknown_expiry(string? token) => Assert.Null(JwtExpiry.TryRead(token));

    [Fact]
    public void A_token_with_no_header_before_its_first_dot_is_not_a_JWT()
    {
        Assert.Null(JwtExpiry.TryRead("." + Segment("""{"exp":1900000000}""") + ".sig"));
    }

    [Fact]
    public void Only_the_second_segment_is_the_payload()
    {
        // An exp in the header or the signature is not the token's expiry.
        var inHeader = Segment("""{"exp":1900000000}""") + "." + Segment("""{"sub":"user-1"}""") + "." + Segment("""{"exp":1900000000}""");
        Assert.Null(JwtExpiry.TryRead(inHeader));
    }

    [Theory]
    [InlineData("""{"sub":"user-1"}""")]
    [InlineData("""{"exp":"1900000000"}""")] // a string is not a NumericDate
    [InlineData("""{"exp":null}""")]
    [InlineData("""{"exp":true}""")]
    [InlineData("""{"exp":{"at":1900000000}}""")]
    [InlineData("""{"exp":0}""")]
    [InlineData("""{"exp":-1}""")]
    [InlineData("""{"exp":253402300800}""")] // past year 9999: no DateTimeOffset holds it
    [InlineData("""{"exp":1e300}""")]
    [InlineData("""[1900000000]""")]
    [InlineData("""1900000000""")]
    [InlineData("""{"exp":19""")] // cut off
    [InlineData("not json")]
    public void A_payload_without_a_usable_numeric_exp_has_an_unknown_expiry(string payload) => Assert.Null(JwtExpiry.TryRead(Jwt(payload)));

    [Fact]
    public void An_exp_up_to_the_last_second_a_DateTimeOffset_holds_is_read()
    {
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(253402300799), JwtExpiry.TryRead(Jwt("""{"exp":253402300799}""")));
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(253402300799_500), JwtExpiry.TryRead(Jwt("""{"exp":253402300799.5}""")));
        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1), JwtExpiry.TryRead(Jwt("""{"exp":1}""")));
    }

    [Fact]
    public void A_payload_that_is_not_base64url_has_an_unknown_expiry()
    {
        Assert.Null(JwtExpiry.TryRead("eyJhbGciOiJub25lIn0.!!not*base64!!.sig"));
        Assert.Null(JwtExpiry.TryRead("v1.k3Y+Zm9v/YmFy==.opaque")); // standard base64 ('+', '/'), as some opaque tokens are
        Assert.Null(JwtExpiry.TryRead("eyJhbGciOiJub25lIn0.eyJleHAiOjE5MDAwMDAwMDB9===.")); // too much padding
    }

    [Fact]
    public void A_payload_over_16_KiB_is_not_decoded_and_one_of_16_KiB_is()
    {
        // A bound on what a token from the server may make the client allocate; real payloads are far smaller.
        string PayloadOfLength(int length)
        {
            const string prefix = "{\"exp\":1900000000,\"pad\":\"";
            // 3 bytes of JSON make 4 characters of base64url: pad the JSON so its encoding is exactly `length` characters.
            var bytes = length / 4 * 3;
            return prefix + new string('x', bytes - prefix.Length - 2) + "\"}";
        }

        var atLimit = Segment(PayloadOfLength(16 * 1024));
        var overLimit = Segment(PayloadOfLength(16 * 1024 + 4));
        Assert.Equal((16 * 1024, 16 * 1024 + 4), (atLimit.Length, overLimit.Length));

        Assert.Equal(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000), JwtExpiry.TryRead("eyJhbGciOiJub25lIn0." + atLimit + "."));
        Assert.Null(JwtExpiry.TryRead("eyJhbGciOiJub25lIn0." + overLimit + "."));
    }
}
