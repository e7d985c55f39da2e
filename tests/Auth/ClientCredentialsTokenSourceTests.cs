using System.Net;
using System.Text;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

using static Courier.Tests.Auth.TokenEndpointScript;

namespace Courier.Tests.Auth;

/// <summary>
/// The client credentials grant (RFC 6749 §4.4) on its own, against a scripted token endpoint: the request it makes
/// (client authentication per §2.3.1, scope, RFC 8707 resources, audience) and how each answer is sorted (§5.1, §5.2): a
/// token, a refusal of the client for good, or a passing failure. No message carries the secret, a token or the server's
/// free text.
/// </summary>
public sealed class ClientCredentialsTokenSourceTests(ITestOutputHelper output) : TestKit(output: output)
{
    private static readonly Uri Endpoint = new("https://idp.example.test/oauth/token");
    private const string Secret = "svc-secret-1";

    private ScriptedHandler Handler() => new(TestActor, () => Sys.Scheduler.Now);

    private static ClientCredentialsTokenSource Source(ScriptedHandler handler, string clientId = "svc", string? clientSecret = Secret,
        ClientAuthentication authentication = ClientAuthentication.Basic, string? scope = null, IEnumerable<string>? resources = null,
        string? audience = null) =>
        new(new HttpClient(handler), Endpoint, clientId, clientSecret, authentication, scope, resources, audience);

    private async Task<(TokenRefreshResult Result, SeenRequest Request)> AcquireAsync(ClientCredentialsTokenSource source)
    {
        var result = await source.AcquireAsync(CancellationToken.None);
        return (result, await ExpectMsgAsync<SeenRequest>());
    }

    // ---- the request ------------------------------------------------------------------------------------------------

    [Fact]
    public async Task Posts_the_client_credentials_grant_with_the_client_in_a_Basic_header_and_the_scope_resources_and_audience()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1","token_type":"Bearer"}"""));

        var (_, request) = await AcquireAsync(Source(handler, scope: "orders.read orders.write",
            resources: ["https://orders.example/", "https://billing.example/"], audience: "orders"));

        Assert.Equal(HttpMethod.Post, request.Method);
        Assert.Equal(Endpoint, request.Uri);
        Assert.Equal(("svc", Secret), BasicCredentials(request.Headers["Authorization"]));
        var form = FormValues(request.Body);
        Assert.Equal(["client_credentials"], form["grant_type"]);
        Assert.Equal(["orders.read orders.write"], form["scope"]);
        Assert.Equal(["https://orders.example/", "https://billing.example/"], form["resource"]);
        Assert.Equal(["orders"], form["audience"]);
        Assert.Empty(form["client_id"]);
        Assert.Empty(form["client_secret"]);
    }

    [Fact]
    public async Task The_Basic_header_form_encodes_the_client_id_and_secret_before_joining_them()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1"}"""));

        var (_, request) = await AcquireAsync(Source(handler, clientId: "svc:one é", clientSecret: "s+cr%t :/é&="));

        Assert.Equal(("svc:one é", "s+cr%t :/é&="), BasicCredentials(request.Headers["Authorization"]));
    }

    [Fact]
    public async Task With_body_authentication_the_client_id_and_secret_go_in_the_form_and_no_Authorization_header()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1"}"""));

        var (_, request) = await AcquireAsync(Source(handler, authentication: ClientAuthentication.Body));

        Assert.False(request.Headers.ContainsKey("Authorization"));
        var form = FormValues(request.Body);
        Assert.Equal(["svc"], form["client_id"]);
        Assert.Equal([Secret], form["client_secret"]);
    }

    [Fact]
    public async Task A_public_client_sends_its_client_id_in_the_form_and_no_secret()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1"}"""));

        var (_, request) = await AcquireAsync(Source(handler, clientSecret: null));

        Assert.False(request.Headers.ContainsKey("Authorization"));
        var form = FormValues(request.Body);
        Assert.Equal(["svc"], form["client_id"]);
        Assert.Empty(form["client_secret"]);
    }

    [Fact]
    public async Task Blank_scope_resources_and_audience_are_not_sent_and_the_others_are_trimmed()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1"}"""))
            .Then(Answer(HttpStatusCode.OK, """{"access_token":"a-2"}"""));

        var (_, blank) = await AcquireAsync(Source(handler, scope: "  ", resources: ["", " "], audience: " "));
        var (_, padded) = await AcquireAsync(Source(handler, scope: " api ", resources: [" ", "https://orders.example/"], audience: " orders "));

        Assert.Equal(["grant_type"], FormValues(blank.Body).Select(g => g.Key));
        var form = FormValues(padded.Body);
        Assert.Equal(["api"], form["scope"]);
        Assert.Equal(["https://orders.example/"], form["resource"]);
        Assert.Equal(["orders"], form["audience"]);
    }

    [Fact]
    public void A_resource_indicator_that_is_not_an_absolute_URI_is_refused_naming_it()
    {
        // RFC 8707 §2: the resource parameter is an absolute URI.
        var error = Assert.Throws<ArgumentException>(() => Source(Handler(), resources: ["https://orders.example/", "orders"]));

        Assert.Equal("resources", error.ParamName);
        Assert.Contains("'orders'", error.Message);
    }

    [Fact]
    public void A_source_needs_a_client_a_client_id_and_an_endpoint_that_keeps_the_secret_off_the_wire_in_clear()
    {
        Assert.Equal("client", Assert.Throws<ArgumentNullException>(() => new ClientCredentialsTokenSource(null!, Endpoint, "svc", Secret)).ParamName);
        Assert.Throws<ArgumentNullException>(() => new ClientCredentialsTokenSource(new HttpClient(), Endpoint, null!, Secret));
        Assert.Throws<ArgumentException>(() => new ClientCredentialsTokenSource(new HttpClient(), Endpoint, "", Secret));
        var plain = new Uri("http://idp.example.test/token");
        Assert.Throws<ArgumentException>(() => new ClientCredentialsTokenSource(new HttpClient(), plain, "svc", Secret));

        Assert.Equal(plain, new ClientCredentialsTokenSource(new HttpClient(), plain, "svc", Secret, allowInsecureHttp: true).Endpoint);
    }

    // ---- the answer -------------------------------------------------------------------------------------------------

    [Fact]
    public async Task A_token_is_read_with_its_lifetime_and_no_refresh_token()
    {
        // RFC 6749 §4.4.3: a refresh token SHOULD NOT be included; one that is sent is not kept.
        var handler = Handler().Then(Answer(HttpStatusCode.OK, """{"access_token":"a-1","token_type":"Bearer","expires_in":300,"refresh_token":"r-1"}"""));

        var (result, _) = await AcquireAsync(Source(handler));

        Assert.Equal(new TokenRefreshResult.Refreshed("a-1", null, TimeSpan.FromSeconds(300)), result);
    }

    [Theory]
    [InlineData("""{"access_token":"a-1"}""")]
    [InlineData("""{"access_token":"a-1","expires_in":0}""")]
    public async Task A_token_without_a_positive_expires_in_has_an_unknown_lifetime(string body)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, body));

        var (result, _) = await AcquireAsync(Source(handler));

        Assert.Equal(new TokenRefreshResult.Refreshed("a-1", null, null), result);
    }

    [Theory]
    [InlineData("""{"token_type":"Bearer","expires_in":300}""")]
    [InlineData("""{"access_token":""}""")]
    public async Task A_success_without_an_access_token_is_a_passing_failure(string body)
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, body));

        var (result, _) = await AcquireAsync(Source(handler));

        Assert.Equal("the token endpoint answered without an access token", Assert.IsType<TokenRefreshResult.Failed>(result).Reason);
    }

    [Theory]
    [InlineData(HttpStatusCode.BadRequest, "invalid_scope")]
    [InlineData(HttpStatusCode.BadRequest, "unauthorized_client")]
    [InlineData(HttpStatusCode.BadRequest, "invalid_client")]
    [InlineData(HttpStatusCode.Unauthorized, "invalid_client")]
    public async Task A_400_or_401_refuses_the_client_for_good_naming_the_error_code_only(HttpStatusCode status, string code)
    {
        var handler = Handler().Then(Answer(status, $$"""{"error":"{{code}}","error_description":"client svc with secret {{Secret}} refused"}"""));

        var (result, _) = await AcquireAsync(Source(handler));

        var rejected = Assert.IsType<TokenRefreshResult.Rejected>(result);
        Assert.Equal($"the token endpoint refused the client credentials with {(int)status} ({code})", rejected.Reason);
        Assert.DoesNotContain(Secret, rejected.Reason);
        Assert.DoesNotContain("refused\"", rejected.Reason);
    }

    [Fact]
    public async Task A_401_without_an_OAuth_body_is_still_a_refusal_without_a_code()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.Unauthorized, "<html>Unauthorized</html>", "text/html"));

        var (result, _) = await AcquireAsync(Source(handler));

        Assert.Equal("the token endpoint refused the client credentials with 401", Assert.IsType<TokenRefreshResult.Rejected>(result).Reason);
    }

    [Theory]
    [InlineData(HttpStatusCode.Forbidden, """{"error":"access_denied"}""", " (access_denied)")] // a proxy or WAF: never final
    [InlineData(HttpStatusCode.InternalServerError, """{"error":"server_error","error_description":"db down"}""", " (server_error)")]
    [InlineData(HttpStatusCode.ServiceUnavailable, "<html>svc-secret-1 maintenance</html>", "")]
    [InlineData(HttpStatusCode.TooManyRequests, "", "")]
    public async Task Other_error_statuses_are_passing_failures(HttpStatusCode status, string body, string suffix)
    {
        var handler = Handler().Then(Answer(status, body, body.StartsWith('{') ? "application/json" : "text/html"));

        var (result, _) = await AcquireAsync(Source(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.Equal($"the token endpoint answered {(int)status}{suffix}", failed.Reason);
        Assert.DoesNotContain(Secret, failed.Reason);
    }

    [Fact]
    public async Task An_error_code_that_is_not_a_well_formed_OAuth_code_is_left_out_of_the_message()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.BadRequest, $$"""{"error":"bad secret {{Secret}}"}"""));

        var (result, _) = await AcquireAsync(Source(handler));

        Assert.Equal("the token endpoint refused the client credentials with 400", Assert.IsType<TokenRefreshResult.Rejected>(result).Reason);
    }

    [Fact]
    public async Task A_success_whose_body_is_not_JSON_is_a_passing_failure_that_does_not_echo_the_body()
    {
        var handler = Handler().Then(Answer(HttpStatusCode.OK, "<html>access_token=a-leaked</html>", "text/html"));

        var (result, _) = await AcquireAsync(Source(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.DoesNotContain("a-leaked", failed.Reason);
        Assert.StartsWith("the token endpoint", failed.Reason);
    }

    [Fact]
    public async Task An_endpoint_that_cannot_be_reached_is_a_passing_failure_carrying_the_exception()
    {
        var error = new HttpRequestException("Connection refused (idp.example.test:443)");
        var handler = Handler().ThenThrow(error);

        var (result, _) = await AcquireAsync(Source(handler));

        var failed = Assert.IsType<TokenRefreshResult.Failed>(result);
        Assert.Equal("the token endpoint could not be reached (HttpRequestException)", failed.Reason);
        Assert.Same(error, failed.Error);
    }

    [Fact]
    public async Task An_acquisition_cancelled_by_its_caller_ends_in_a_cancellation_not_a_failure()
    {
        using var cancel = new CancellationTokenSource();
        var handler = Handler().ThenHang();
        var acquire = Source(handler).AcquireAsync(cancel.Token);
        await ExpectMsgAsync<SeenRequest>();

        await cancel.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => acquire);
    }
}
