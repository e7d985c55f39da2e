using System.Net;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// Credentials never follow a redirect to another origin (scheme, host and port, RFC 6454): neither the headers the
/// caller set (Authorization, Cookie, Proxy-Authorization, the token header) nor the runtime's access token. Within
/// the origin they do. A TestProbe plays the TokenActor where a token is involved.
/// </summary>
public sealed class CrossOriginRedirectTests(ITestOutputHelper output) : CoordinatorTestKit(output)
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Redirect(HttpStatusCode status, string location) =>
        (_, _) =>
        {
            var response = new HttpResponseMessage(status) { Content = new StringContent("") };
            response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
            return Task.FromResult(response);
        };

    private static HttpCall CallWithCredentials() => HttpCall.Get(Url)
        .WithHeader("Authorization", "Basic dXNlcjpwYXNz")
        .WithHeader("Cookie", "session=abc")
        .WithHeader("Proxy-Authorization", "Basic cHJveHk6cGFzcw==")
        .WithHeader("X-Request-Tag", "kept");

    [Theory]
    [InlineData("https://other.example.test/items/1")]      // another host
    [InlineData("https://api.example.test:8443/items/1")]   // another port
    [InlineData("https://API.other.test/items/1")]          // another host, other case
    public void Credentials_the_caller_set_are_not_sent_to_another_origin(string location)
    {
        Handler.Then(Redirect(HttpStatusCode.Found, location));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(CallWithCredentials()));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("Basic dXNlcjpwYXNz", first.Headers["Authorization"]);
        Assert.Equal("session=abc", first.Headers["Cookie"]);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(new Uri(location), second.Uri);
        Assert.False(second.Headers.ContainsKey("Authorization"));
        Assert.False(second.Headers.ContainsKey("Cookie"));
        Assert.False(second.Headers.ContainsKey("Proxy-Authorization"));
        Assert.Equal("kept", second.Headers["X-Request-Tag"]);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void Credentials_the_caller_set_follow_a_redirect_within_the_origin()
    {
        Handler.Then(Redirect(HttpStatusCode.MovedPermanently, "https://API.example.test/items/2"));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(CallWithCredentials()));

        Seen.ExpectMsg<SeenRequest>();
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("/items/2", second.Uri.AbsolutePath);
        Assert.Equal("Basic dXNlcjpwYXNz", second.Headers["Authorization"]);
        Assert.Equal("session=abc", second.Headers["Cookie"]);
        Assert.Equal("Basic cHJveHk6cGFzcw==", second.Headers["Proxy-Authorization"]);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_custom_token_header_the_caller_set_is_not_sent_to_another_origin()
    {
        Handler.Then(Redirect(HttpStatusCode.TemporaryRedirect, "https://cdn.example.test/items/1"));
        var coordinator = StartCoordinator(o => o.Auth = new TokenOptions { HeaderName = "X-Api-Key", Scheme = "" });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url).WithHeader("X-Api-Key", "caller-key")));

        Assert.Equal("caller-key", Seen.ExpectMsg<SeenRequest>().Headers["X-Api-Key"]);
        Assert.False(Seen.ExpectMsg<SeenRequest>().Headers.ContainsKey("X-Api-Key"));
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void The_runtimes_access_token_goes_to_the_origin_it_is_for_and_not_to_the_redirect_target()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "https://files.example.test/blob/9"));
        var coordinator = StartCoordinatorWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        Assert.Equal("Bearer access-1", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("files.example.test", second.Uri.Host);
        Assert.False(second.Headers.ContainsKey("Authorization"));
        Tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // no token asked for the other origin
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_bare_token_scheme_sends_the_token_alone_in_the_configured_header()
    {
        var coordinator = StartCoordinatorWithTokens(o => o.Auth = new TokenOptions { HeaderName = "X-Api-Key", Scheme = " " });
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        var seen = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("access-1", seen.Headers["X-Api-Key"]);
        Assert.False(seen.Headers.ContainsKey("Authorization"));
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_redirect_within_the_origin_asks_for_the_token_again_at_send_time()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "/items/2"));
        var coordinator = StartCoordinatorWithTokens();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));

        Grant<GetToken>(call, 1);
        Assert.Equal("Bearer access-1", Seen.ExpectMsg<SeenRequest>().Headers["Authorization"]);
        Grant<GetToken>(call, 2);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal("/items/2", second.Uri.AbsolutePath);
        Assert.Equal("Bearer access-2", second.Headers["Authorization"]);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Theory]
    [InlineData("ftp://api.example.test/items/1")]
    [InlineData("file:///etc/passwd")]
    public void A_redirect_to_a_scheme_other_than_http_or_https_is_refused(string location)
    {
        Handler.Then(Redirect(HttpStatusCode.Found, location));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Seen.ExpectMsg<SeenRequest>();
        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.Found, error.StatusCode);
        Assert.Contains("was refused", error.Message);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_redirect_from_http_up_to_https_is_followed()
    {
        Handler.Then(Redirect(HttpStatusCode.MovedPermanently, "https://api.example.test/items/1"));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri("http://api.example.test/items/1"))));

        Assert.Equal("http", Seen.ExpectMsg<SeenRequest>().Uri.Scheme);
        Assert.Equal("https", Seen.ExpectMsg<SeenRequest>().Uri.Scheme);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void With_MaxRedirects_0_a_redirect_is_the_answer_not_followed()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "/items/2"));
        var coordinator = StartCoordinator(o => o.MaxRedirects = 0);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Seen.ExpectMsg<SeenRequest>();
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(HttpStatusCode.Found, Assert.IsType<HttpStatusException>(failed.Error).StatusCode);
        Assert.Equal(1, failed.Attempts);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_redirect_without_a_Location_is_not_followed()
    {
        Handler.ThenStatus(HttpStatusCode.Found);
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpStatusCode.Found, Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).StatusCode);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Exactly_MaxRedirects_redirects_are_followed()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "/a")).Then(Redirect(HttpStatusCode.Found, "/b"));
        var coordinator = StartCoordinator(o => o.MaxRedirects = 2);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(3, ok.Attempts);
        Assert.Equal(3, Handler.Count);
        ok.Response.Dispose();
    }

    [Fact]
    public void A_HEAD_redirected_with_303_stays_a_HEAD_and_a_PUT_redirected_with_301_keeps_its_method_and_body()
    {
        Handler.Then(Redirect(HttpStatusCode.SeeOther, "/a"));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Head, Url)));
        Assert.Equal(HttpMethod.Head, Seen.ExpectMsg<SeenRequest>().Method);
        Assert.Equal(HttpMethod.Head, Seen.ExpectMsg<SeenRequest>().Method);
        ExpectMsg<CallSucceeded>().Response.Dispose();

        Handler.Then(Redirect(HttpStatusCode.MovedPermanently, "/b"));
        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.Json(new { name = "x" }) }));
        var first = Seen.ExpectMsg<SeenRequest>();
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpMethod.Put, second.Method);
        Assert.Equal(first.Body, second.Body);
        Assert.NotNull(second.Body);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }
}
