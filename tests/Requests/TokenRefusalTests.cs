using System.Net;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// A call whose access token the server refuses (issue 14): retried when the credentials moved to a newer generation
/// since its last attempt, at most <see cref="HttpRuntimeOptions.MaxRefreshesPerCall"/> times; a refusal of the
/// generation it was just given ends it. A TestProbe plays the TokenActor, so the test decides every generation.
/// </summary>
public sealed class TokenRefusalTests(ITestOutputHelper output) : CoordinatorTestKit(output)
{
    private static readonly Uri Url = new("https://api.example.test/orders");

    private string ExpectRequestWithToken()
    {
        var seen = Seen.ExpectMsg<SeenRequest>();
        return seen.Headers["Authorization"];
    }

    // Regression (issue 14): the second refusal always ended the call, even when the fleet had refreshed meanwhile.
    [Fact]
    public void A_second_refusal_is_retried_when_the_credentials_moved_to_a_newer_generation()
    {
        Handler.ThenStatus(HttpStatusCode.Unauthorized).ThenStatus(HttpStatusCode.Unauthorized);
        var coordinator = StartCoordinatorWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        Assert.Equal("Bearer access-1", ExpectRequestWithToken());
        var rejected = Tokens.ExpectMsg<TokenRejected>();
        Assert.Equal(1, rejected.Generation);
        Tokens.Reply(new TokenGranted(call.Id, "access-2", 2));
        Assert.Equal("Bearer access-2", ExpectRequestWithToken());

        // Refused again: the call asks for the current token (never a second refresh of its own) and gets a newer one.
        Grant<GetToken>(call, 3);
        Assert.Equal("Bearer access-3", ExpectRequestWithToken());

        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(3, ok.Attempts);
        ok.Response.Dispose();
    }

    [Fact]
    public void A_refusal_of_the_generation_the_call_was_just_given_ends_it()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Unauthorized));
        var coordinator = StartCoordinatorWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        ExpectRequestWithToken();
        Grant<TokenRejected>(call, 2);
        ExpectRequestWithToken();
        Grant<GetToken>(call, 2); // the credentials have not moved since generation 2 was refused

        var error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("401 again after a refresh", error.Message);
        Assert.Equal(2, Handler.Count);
        Tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Refusals_are_bounded_by_MaxRefreshesPerCall_even_when_every_generation_is_newer()
    {
        Handler.Default = (_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.Unauthorized));
        var coordinator = StartCoordinatorWithTokens(o => o.MaxRefreshesPerCall = 3);
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        ExpectRequestWithToken();
        Grant<TokenRejected>(call, 2);
        ExpectRequestWithToken();
        Grant<GetToken>(call, 3);
        ExpectRequestWithToken();
        Grant<GetToken>(call, 4);
        ExpectRequestWithToken();

        var error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("Courier:MaxRefreshesPerCall", error.Message);
        Assert.Equal(4, Handler.Count);
        Tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void With_no_refreshes_allowed_the_first_refusal_ends_the_call()
    {
        Handler.ThenStatus(HttpStatusCode.Unauthorized);
        var coordinator = StartCoordinatorWithTokens(o => o.MaxRefreshesPerCall = 0);
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        ExpectRequestWithToken();
        Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void MaxRefreshesPerCall_out_of_range_names_the_setting()
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => new HttpRuntimeOptions { MaxRefreshesPerCall = 11 }.Validate());
        Assert.Contains("Courier:MaxRefreshesPerCall", error.Message);
    }
}
