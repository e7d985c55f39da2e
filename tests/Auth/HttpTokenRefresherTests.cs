using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

using static Courier.Tests.Auth.TokenEndpointScript;

namespace Courier.Tests.Auth;

/// <summary>
/// The HTTP refreshers on their own, against a scripted token endpoint: what they send (RFC 6749 §6 and §2.3.1 for
/// OAuth 2.0, the seeds' JSON contract otherwise) and how they sort the answers (RFC 6749 §5.1 and §5.2): a new pair, a
/// refusal that signs the user out, or a passing failure that is retried. No message carries a token, a secret or the
/// server's free text.
/// </summary>
public sealed class HttpTokenRefresherTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly Uri Endpoint = new("https://idp.example.test/oauth/token");
    private const string RefreshToken = "refresh-secret-1";

    private ScriptedHandler Handler() => new(TestActor, () => Sys.Scheduler.Now);

    private static OAuth2TokenRefresher OAuth2(ScriptedHandler handler, string? clientId = "app", string? clientSecret = "app-secret",
        ClientAuthentication authentication = ClientAuthentication.Basic, string? scope = null) =>
        new(new HttpClient(handler), Endpoint, clientId, clientSecret, authentication, scope);

    private async Task<(TokenRefreshResult Result, SeenRequest Request)> RefreshAsync(ITokenRefresher refresher)
    {
        var result = await refresher.RefreshAsync(RefreshToken, CancellationToken.None);
        return (result, await ExpectMsgAsync<SeenRequest>());
    }

    private static void AssertSafe(string message, params string[] secrets)
    {
        foreach (var secret in secrets.Append(RefreshToken)) Assert.DoesNotContain(secret, message);
    }

    // ---- OAuth 2.0: the request -------------------------------------------------------------------------------------

    [Fact]
    public async Task OAuth2_posts_the_refresh_token_grant_form_encoded_with_the_client_in_a_Basic_header()
    {
        MediaTypeHeaderValue? contentType = null;
        var handler = Handler().Then((request, _) =>
        {
            contentType = request.Content!.Headers.ContentType;
            return Answer(HttpStatusCode.OK, """{"access_token":"a-2","token_type":"Bearer"}""")(request, default);
        });

        var (_, request) = await RefreshAsync(OAuth2(handler));

        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(Endpoint, request.Uri);
        Assert.Equal("application/x-www-form-urlencoded", contentType?.MediaType);
        Assert.Equal("application/json", request.Headers["Accept"]);
        Assert.Equal(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = RefreshToken }, Form(request.Body));
        Assert.Equal(("app", "app-secret"), BasicCredentials(request.Headers["Authorization"]));
    }

    [Fact]
    public async Task OAuth2_form_encodes_the_client_id_and_secret_before_joining_them_in_the_Basic_header()
    {
        // RFC 6749 §2.3.1: a ':' in the id, or '+', '%', a space or a non-ASCII letter in the secret, reach the server intact.
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""));

        var (_, request) = await RefreshAsync(OAuth2(handler, clientId: "app:one é", clientSecret: "s+cr%t :/é&="));

        Assert.Equal(("app:one é", "s+cr%t :/é&="), BasicCredentials(request.Headers["Authorization"]));
    }

    [Fact]
    public async Task OAuth2_with_body_authentication_sends_the_client_id_and_secret_in_the_form_and_no_Authorization_header()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""));

        var (_, request) = await RefreshAsync(OAuth2(handler, authentication: ClientAuthentication.Body));

        Assert.False(request.Headers.ContainsKey("Authorization"));
        Assert.Equal(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token", ["refresh_token"] = RefreshToken, ["client_id"] = "app", ["client_secret"] = "app-secret",
        }, Form(request.Body));
    }

    [Fact]
    public async Task OAuth2_public_client_sends_its_client_id_in_the_form_and_no_secret()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""));

        var (_, request) = await RefreshAsync(OAuth2(handler, clientSecret: null));

        Assert.False(request.Headers.ContainsKey("Authorization"));
        Assert.Equal(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = RefreshToken, ["client_id"] = "app" },
            Form(request.Body));
    }

    [Fact]
    public async Task OAuth2_without_a_client_id_sends_no_client_authentication()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""));

        var (_, request) = await RefreshAsync(OAuth2(handler, clientId: null, clientSecret: null));

        Assert.False(request.Headers.ContainsKey("Authorization"));
        Assert.Equal(new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = RefreshToken }, Form(request.Body));
    }

    [Fact]
    public async Task OAuth2_asks_for_the_configured_scope_and_for_none_when_it_is_empty()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}""")).Then(Answer(HttpStatusCode.OK, """{"access_token":"a-3"}"""));

        var (_, scoped) = await RefreshAsync(OAuth2(handler, scope: "orders.read orders.write"));
        var (_, unscoped) = await RefreshAsync(OAuth2(handler, scope: ""));

        Assert.Equal("orders.read orders.write", Form(scoped.Body)["scope"]);
        Assert.False(Form(unscoped.Body).ContainsKey("scope"));
    }

    // ---- OAuth 2.0: the answer --------------------------------------------------------------------------------------

    [Fact]
    public async Task OAuth2_reads_the_access_token_the_rotated_refresh_token_and_expires_in()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK,
            """{"access_token":"a-2","token_type":"Bearer","refresh_token":"r-2","expires_in":3600,"scope":"orders.read"}"""));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        Assert.Equal(new TokenRefreshResult.Refreshed("a-2", "r-2", TimeSpan.FromSeconds(3600)), result);
    }

    [Fact]
    public async Task OAuth2_without_a_new_refresh_token_or_expires_in_keeps_the_old_refresh_token_and_an_unknown_lifetime()
    {
        // RFC 6749 §5.1: both are optional; an empty refresh_token is no new refresh token.
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""))
            .Then(Answer(HttpStatusCode.OK, """{"access_token":"a-3","refresh_token":""}"""));

        var (first, _) = await RefreshAsync(OAuth2(handler));
        var (second, _) = await RefreshAsync(OAuth2(handler));

        Assert.Equal(new TokenRefreshResult.Refreshed("a-2", null, null), first);
        Assert.Equal(new TokenRefreshResult.Refreshed("a-3", null, null), second);
    }

    [Theory]
    [InlineData("""{"token_type":"Bearer"}""")]
    [InlineData("""{"access_token":""}""")]
    [InlineData("""{"access_token":42}""")]
    [InlineData("""{"accessToken":"a-2"}""")] // the seeds' name is not OAuth 2.0's
    [InlineData("""["access_token","a-2"]""")]
    public async Task OAuth2_success_without_an_access_token_is_a_passing_failure(string body)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, body));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.Equal("the token endpoint answered 200 without an access token", failed.Reason);
    }

    [Fact]
    public async Task OAuth2_success_whose_body_is_not_JSON_is_a_passing_failure_that_does_not_echo_the_body()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, "<html>access_token=a-leaked</html>", "text/html"));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.Equal("the token endpoint answered 200 with a body that is not the expected JSON", failed.Reason);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, "invalid_grant")]
    [InlineData(HttpStatusCode.BadRequest, "invalid_client")]
    [InlineData(HttpStatusCode.Unauthorized, "invalid_client")]
    public async Task OAuth2_400_and_401_refuse_the_refresh_token_for_good_naming_the_error_code_only(HttpStatusCode status, string code)
    {
        // RFC 6749 §5.2: the description may echo what was sent; only the code reaches the message.
        var handler = Handler().Then(Answer(status, $$"""{"error":"{{code}}","error_description":"refresh token {{RefreshToken}} was revoked"}"""));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        var rejected = Assert.IsType<TokenRefreshResult.Rejected>(result);
        Assert.Equal($"the token endpoint answered {(int)status} ({code})", rejected.Reason);
        AssertSafe(rejected.Reason, "revoked", "app-secret");
    }

    [Theory]
    [InlineData(HttpStatusCode.Forbidden, """{"error":"access_denied"}""", " (access_denied)")] // a proxy or WAF: never a sign-out
    [InlineData(HttpStatusCode.InternalServerError, """{"error":"server_error"}""", " (server_error)")]
    [InlineData(HttpStatusCode.ServiceUnavailable, """{"error":"temporarily_unavailable","error_description":"try later"}""", " (temporarily_unavailable)")]
    [InlineData(HttpStatusCode.BadGateway, "<html>upstream refresh-secret-1 down</html>", "")]
    [InlineData(HttpStatusCode.TooManyRequests, "", "")]
    public async Task OAuth2_other_error_statuses_are_passing_failures_that_keep_the_refresh_token(HttpStatusCode status, string body, string suffix)
    {
        var handler = Handler().Then(Answer(status, body));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.Equal($"the token endpoint answered {(int)status}{suffix}", failed.Reason);
        AssertSafe(failed.Reason, "try later", "upstream");
    }

    [Theory]
    [InlineData("""{"error":"invalid grant"}""")] // not a code: free text
    [InlineData("""{"error":""}""")]
    [InlineData("""{"error":400}""")]
    [InlineData("""{"error":"invalid_grant: refresh-secret-1"}""")]
    [InlineData("""["invalid_grant"]""")]
    [InlineData("not json at all")]
    public async Task An_error_that_is_not_a_well_formed_OAuth_code_is_left_out_of_the_message(string body)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.BadRequest, body));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        Assert.Equal("the token endpoint answered 400", Assert.IsType<TokenRefreshResult.Rejected>(result).Reason);
    }

    [Theory]
    [InlineData("x", true)]
    [InlineData("urn.example-error_2", true)]
    [InlineData("invalid_grant", true)]
    [InlineData("", false)]
    [InlineData(null, false)]
    [InlineData("invalid grant", false)]
    [InlineData("invalid_grant\n", false)]
    [InlineData("invalid/grant", false)]
    [InlineData("invalid_gränt", false)]
    public void An_error_code_is_named_only_when_it_is_ASCII_letters_digits_and_separators(string? code, bool named) =>
        Assert.Equal(named ? $" ({code})" : "", HttpTokenRefresher.FormatErrorCode(code));

    [Fact]
    public void An_error_code_is_named_up_to_63_characters()
    {
        Assert.Equal($" ({new string('e', 63)})", HttpTokenRefresher.FormatErrorCode(new string('e', 63)));
        Assert.Equal("", HttpTokenRefresher.FormatErrorCode(new string('e', 64)));
    }

    // ---- expires_in -------------------------------------------------------------------------------------------------

    [Theory]
    [InlineData("3600", 3600.0)]
    [InlineData("0", 0.0)]
    [InlineData("1.5", 1.5)]
    [InlineData("\"120\"", 120.0)] // some servers send a string
    [InlineData("\"0.25\"", 0.25)]
    [InlineData("\"0\"", 0.0)]
    [InlineData("-1", null)]
    [InlineData("\"-5\"", null)]
    [InlineData("\"soon\"", null)]
    [InlineData("true", null)]
    [InlineData("null", null)]
    public async Task Expires_in_is_read_in_seconds_from_a_number_or_a_numeric_string_and_ignored_when_negative_or_not_a_number(
        string value, double? seconds)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, $$"""{"access_token":"a-2","expires_in":{{value}}}"""));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        var lifetime = Assert.IsType<TokenRefreshResult.Refreshed>(result).ExpiresIn;
        Assert.Equal(seconds is { } s ? TimeSpan.FromSeconds(s) : null, lifetime);
    }

    [Theory]
    [InlineData("1e300")]
    [InlineData("\"1e300\"")]
    [InlineData("315360000")]
    public async Task An_absurd_expires_in_is_ten_years_not_an_overflow(string value)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, $$"""{"access_token":"a-2","expires_in":{{value}}}"""));

        var (result, _) = await RefreshAsync(OAuth2(handler));

        Assert.Equal(TimeSpan.FromDays(3650), Assert.IsType<TokenRefreshResult.Refreshed>(result).ExpiresIn);
    }

    // ---- failures to reach the endpoint, cancellation, arguments ------------------------------------------------------

    [Fact]
    public async Task An_endpoint_that_cannot_be_reached_is_a_passing_failure_carrying_the_exception()
    {
        var error = new HttpRequestException("Connection refused (idp.example.test:443)");
        var handler = Handler().ThenThrow(error).ThenThrow(new IOException("connection reset"));

        var (refused, _) = await RefreshAsync(OAuth2(handler));
        var (reset, _) = await RefreshAsync(OAuth2(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(refused);
        Assert.Equal("the token endpoint could not be reached (HttpRequestException: Connection refused (idp.example.test:443))", failed.Reason);
        Assert.Same(error, failed.Error);
        Assert.StartsWith("the token endpoint could not be reached (", Assert.IsType<TokenRefreshResult.Failed>(reset).Reason);
        AssertSafe(failed.Reason, "app-secret");
    }

    [Fact]
    public async Task A_token_request_that_times_out_in_the_client_is_a_passing_failure()
    {
        // HttpClient.Timeout cancels with its own token: not the caller's, so not a cancellation of the refresh.
        var handler = Handler().ThenHang();
        var refresher = new OAuth2TokenRefresher(new HttpClient(handler) { Timeout = TimeSpan.FromMilliseconds(1) }, Endpoint, "app", "app-secret");

        var result = await refresher.RefreshAsync(RefreshToken, CancellationToken.None);

        Assert.StartsWith("the token endpoint could not be reached (", Assert.IsType<TokenRefreshResult.Failed>(result).Reason);
    }

    [Fact]
    public async Task A_refresh_cancelled_by_its_caller_ends_in_a_cancellation_not_a_failure()
    {
        using var cancel = new CancellationTokenSource();
        var handler = Handler().ThenHang();
        var refresh = OAuth2(handler).RefreshAsync(RefreshToken, cancel.Token);
        await ExpectMsgAsync<SeenRequest>();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => refresh);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("")]
    public async Task A_missing_refresh_token_is_refused_before_any_request(string? refreshToken)
    {
        var handler = Handler();

        await Assert.ThrowsAnyAsync<ArgumentException>(() => OAuth2(handler).RefreshAsync(refreshToken!, CancellationToken.None));
        await Assert.ThrowsAnyAsync<ArgumentException>(() =>
            new JsonTokenRefresher(new HttpClient(handler), Endpoint).RefreshAsync(refreshToken!, CancellationToken.None));

        Assert.Equal(0, handler.Count);
    }

    [Fact]
    public void A_refresher_needs_a_client_and_an_endpoint_that_keeps_the_refresh_token_off_the_wire_in_clear()
    {
        Assert.Equal("client", Assert.Throws<ArgumentNullException>(() => new JsonTokenRefresher(null!, Endpoint)).ParamName);
        Assert.Equal("client", Assert.Throws<ArgumentNullException>(() => new OAuth2TokenRefresher(null!, Endpoint, "app", "s")).ParamName);
        var plain = new Uri("http://idp.example.test/token");
        Assert.Throws<ArgumentException>(() => new OAuth2TokenRefresher(new HttpClient(), plain, "app", "s"));
        Assert.Throws<ArgumentException>(() => new JsonTokenRefresher(new HttpClient(), plain));

        Assert.Equal(plain, new JsonTokenRefresher(new HttpClient(), plain, allowInsecureHttp: true).Endpoint);
        Assert.Equal(Endpoint, new OAuth2TokenRefresher(new HttpClient(), Endpoint, "app", "s").Endpoint);
    }

    // ---- the seeds' JSON contract -----------------------------------------------------------------------------------

    [Fact]
    public async Task Json_posts_the_refresh_token_as_a_JSON_object_and_reads_the_camel_case_answer()
    {
        MediaTypeHeaderValue? contentType = null;
        var handler = Handler().Then((request, _) =>
        {
            contentType = request.Content!.Headers.ContentType;
            return Answer(HttpStatusCode.OK, """{"accessToken":"a-2","refreshToken":"r-2","expiresIn":"90"}""")(request, default);
        });

        var (result, request) = await RefreshAsync(new JsonTokenRefresher(new HttpClient(handler), Endpoint));

        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(Endpoint, request.Uri);
        Assert.Equal(("application/json", "utf-8"), (contentType?.MediaType, contentType?.CharSet));
        Assert.Equal("application/json", request.Headers["Accept"]);
        Assert.False(request.Headers.ContainsKey("Authorization"));
        Assert.Equal(new Dictionary<string, string> { ["refresh"] = RefreshToken }, JsonSerializer.Deserialize<Dictionary<string, string>>(request.Body!));
        Assert.Equal(new TokenRefreshResult.Refreshed("a-2", "r-2", TimeSpan.FromSeconds(90)), result);
    }

    [Theory]
    [InlineData("""{"accessToken":"a-2"}""", null)]
    [InlineData("""{"accessToken":"a-2","refreshToken":""}""", null)]
    [InlineData("""{"accessToken":"a-2","refreshToken":7,"expiresIn":-3}""", null)]
    [InlineData("""{"accessToken":"a-2","expiresIn":30}""", 30.0)]
    public async Task Json_keeps_the_old_refresh_token_when_none_comes_back(string body, double? seconds)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, body));

        var (result, _) = await RefreshAsync(new JsonTokenRefresher(new HttpClient(handler), Endpoint));

        Assert.Equal(new TokenRefreshResult.Refreshed("a-2", null, seconds is { } s ? TimeSpan.FromSeconds(s) : null), result);
    }

    [Theory]
    [InlineData("""{"access_token":"a-2"}""")] // OAuth 2.0's name is not the seeds'
    [InlineData("""{"accessToken":""}""")]
    [InlineData("""{"accessToken":null}""")]
    [InlineData("\"a-2\"")]
    public async Task Json_success_without_an_access_token_is_a_passing_failure(string body)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, body));

        var (result, _) = await RefreshAsync(new JsonTokenRefresher(new HttpClient(handler), Endpoint));

        Assert.Equal("the token endpoint answered 200 without an access token", Assert.IsType<TokenRefreshResult.Failed>(result).Reason);
    }

    [Fact]
    public async Task Json_refusals_and_passing_failures_are_sorted_as_OAuth_2_ones()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.Unauthorized, """{"error":"invalid_token"}"""))
            .Then(Answer(HttpStatusCode.BadGateway, "bad gateway", "text/plain"))
            .Then(Answer(HttpStatusCode.OK, "{not json"));
        var refresher = new JsonTokenRefresher(new HttpClient(handler), Endpoint);

        Assert.Equal("the token endpoint answered 401 (invalid_token)", Assert.IsType<TokenRefreshResult.Rejected>((await RefreshAsync(refresher)).Result).Reason);
        Assert.Equal("the token endpoint answered 502", Assert.IsType<TokenRefreshResult.Failed>((await RefreshAsync(refresher)).Result).Reason);
        Assert.Equal("the token endpoint answered 200 with a body that is not the expected JSON",
            Assert.IsType<TokenRefreshResult.Failed>((await RefreshAsync(refresher)).Result).Reason);
    }
}
