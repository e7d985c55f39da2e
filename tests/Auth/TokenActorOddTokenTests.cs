using Akka.Actor;
using Courier.Auth;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// Access tokens are opaque to the client (RFC 6749 §1.4): one that looks like a JWT but is not (dots in an opaque token,
/// standard base64 in a segment, an <c>exp</c> that is not a number) is used like any other, with an unknown expiry. It
/// never crashes the TokenActor, which would lose the refresh token the server has just rotated.
/// </summary>
public sealed class TokenActorOddTokenTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    public static TheoryData<string> OddTokens() => new()
    {
        "v1.k3Y+Zm9v/YmFy==.opaque",                                // dots, and '+' and '/' that base64url has not
        JwtExpiryTests.Jwt("""{"sub":"user-1","exp":"1900000000"}"""), // exp a string
        JwtExpiryTests.Jwt("""{"sub":"user-1","exp":null}"""),
    };

    [Theory]
    [MemberData(nameof(OddTokens))]
    public void A_refreshed_access_token_that_is_not_a_readable_JWT_is_handed_out_and_its_rotated_refresh_token_kept(string access)
    {
        var store = new HeldStore(new TokenPair("token-1", "refresh-1"));
        var tokens = StartTokens(null, store);
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);

        Refresher.Answer(new TokenRefreshResult.Refreshed(access, "refresh-2", null));

        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal((access, 2L), (granted.AccessToken, granted.Generation));
        Assert.Equal(new TokenPair(access, "refresh-2"), store.Current);
        Assert.Null(StatusOf(tokens).ExpiresAt);
    }

    [Theory]
    [MemberData(nameof(OddTokens))]
    public void A_sign_in_with_an_access_token_that_is_not_a_readable_JWT_is_taken(string access)
    {
        var tokens = StartTokens(new TokenPair("token-1", "refresh-1"));

        tokens.Tell(new SignIn(new TokenPair(access, "refresh-9")), TestActor);
        ExpectMsg<SignedIn>();

        tokens.Tell(new GetToken(2), TestActor);
        Assert.Equal(access, ExpectMsg<TokenGranted>().AccessToken);
    }

    [Theory]
    [MemberData(nameof(OddTokens))]
    public void Configured_tokens_that_are_not_readable_JWTs_start_with_an_unknown_expiry(string access) =>
        Assert.Equal(new TokenPair(access, "refresh-1"), new TokenOptions { AccessToken = access, RefreshToken = "refresh-1" }.InitialCredentials());
}
