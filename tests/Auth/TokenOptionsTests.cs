using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>
/// Courier:Auth as a user writes it: each invalid setting is refused naming its configuration key, and the options
/// build the refresher, acquirer, store and initial credentials they describe.
/// </summary>
public sealed class TokenOptionsTests
{
    private static readonly Uri Endpoint = new("https://idp.example.test/oauth/token");
    private static readonly HttpClient TokenClient = new();

    private static string Refused(TokenOptions options, string section = "Courier:Auth")
    {
        var error = Assert.ThrowsAny<ArgumentException>(() => options.Validate(section));
        return error.Message;
    }

    [Fact]
    public void The_defaults_and_a_complete_OAuth_2_configuration_are_valid()
    {
        new TokenOptions().Validate();
        new TokenOptions
        {
            Format = TokenWireFormat.OAuth2, RefreshEndpoint = Endpoint, ClientId = "app", ClientSecret = "s", Scope = "a b",
            TriggerStatusCodes = [401, 403], ProactiveRefreshMargin = TimeSpan.Zero, ProactiveRefreshFraction = 1, RefreshMaxRetries = 100,
        }.Validate();
        new TokenOptions { ProactiveRefreshFraction = 0, RefreshMaxRetries = 0 }.Validate();
    }

    [Fact]
    public void By_default_the_token_goes_in_the_Authorization_header_as_a_Bearer_token_renewed_with_the_seeds_JSON_refresh()
    {
        var options = new TokenOptions();
        Assert.Equal(("Authorization", "Bearer"), (options.HeaderName, options.Scheme));
        Assert.Equal((TokenWireFormat.Json, TokenGrantType.RefreshToken, ClientAuthentication.Basic, false),
            (options.Format, options.Grant, options.ClientAuthentication, options.AllowInsecureHttp));
    }

    [Fact]
    public void Each_invalid_setting_is_refused_naming_its_key_under_the_section()
    {
        Assert.Contains("Courier:Credentials:billing:HeaderName", Refused(new TokenOptions { HeaderName = " " }, "Courier:Credentials:billing"));
        Assert.Contains("Courier:Auth:HeaderName", Refused(new TokenOptions { HeaderName = "" }));
        Assert.Contains("Courier:Auth:TriggerStatusCodes", Refused(new TokenOptions { TriggerStatusCodes = [] }));
        Assert.Contains("Courier:Auth:ProactiveRefreshMargin", Refused(new TokenOptions { ProactiveRefreshMargin = TimeSpan.FromTicks(-1) }));
        Assert.Contains("Courier:Auth:ProactiveRefreshFraction", Refused(new TokenOptions { ProactiveRefreshFraction = -0.01 }));
        Assert.Contains("Courier:Auth:ProactiveRefreshFraction", Refused(new TokenOptions { ProactiveRefreshFraction = 1.01 }));
        Assert.Contains("Courier:Auth:RefreshTimeout", Refused(new TokenOptions { RefreshTimeout = TimeSpan.Zero }));
        Assert.Contains("Courier:Auth:RefreshAttemptTimeout", Refused(new TokenOptions { RefreshAttemptTimeout = TimeSpan.Zero }));
        Assert.Contains("Courier:Auth:StoreWriteTimeout", Refused(new TokenOptions { StoreWriteTimeout = TimeSpan.Zero }));
        Assert.Contains("Courier:Auth:RefreshMaxRetries", Refused(new TokenOptions { RefreshMaxRetries = -1 }));
        Assert.Contains("Courier:Auth:RefreshMaxRetries", Refused(new TokenOptions { RefreshMaxRetries = 101 }));
        Assert.Contains("Courier:Auth:ClientSecret", Refused(new TokenOptions { ClientSecret = "s" }));
        Assert.Contains("plain http", Refused(new TokenOptions { RefreshEndpoint = new Uri("http://idp.example.test/token") }));
    }

    [Fact]
    public void Validate_without_a_section_names_the_Courier_Auth_keys()
    {
        var error = Assert.ThrowsAny<ArgumentException>(new TokenOptions { RefreshTimeout = TimeSpan.FromSeconds(-1) }.Validate);
        Assert.Contains("Courier:Auth:RefreshTimeout", error.Message);
    }

    [Fact]
    public void A_plain_http_endpoint_is_not_checked_when_a_refresher_of_the_users_own_is_given()
    {
        new TokenOptions { RefreshEndpoint = new Uri("http://idp.example.test/token"), Refresher = new DelegateTokenRefresher((_, _) => null!) }.Validate();
    }

    [Fact]
    public void The_client_credentials_grant_needs_an_endpoint_a_client_id_and_absolute_resources()
    {
        Assert.Contains("Courier:Auth:RefreshEndpoint", Refused(new TokenOptions { Grant = TokenGrantType.ClientCredentials, ClientId = "svc" }));
        Assert.Contains("Courier:Auth:ClientId", Refused(new TokenOptions { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint }));
        Assert.Contains("Courier:Auth:Resources", Refused(new TokenOptions
        {
            Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, ClientId = "svc", Resources = ["https://orders.example/", "orders"],
        }));
        new TokenOptions { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, ClientId = "svc", Resources = ["https://orders.example/"] }.Validate();
        new TokenOptions { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, ClientId = "svc" }.Validate();
        // An acquirer or a refresher of the user's own replaces those settings.
        new TokenOptions { Grant = TokenGrantType.ClientCredentials, Acquirer = new StubAcquirer() }.Validate();
        new TokenOptions { Grant = TokenGrantType.ClientCredentials, Refresher = new DelegateTokenRefresher((_, _) => null!) }.Validate();
    }

    [Fact]
    public void The_trigger_statuses_are_401_unless_a_list_is_configured_which_replaces_it()
    {
        Assert.Equal([401], new TokenOptions().EffectiveTriggerStatusCodes);
        Assert.Equal([403], new TokenOptions { TriggerStatusCodes = [403] }.EffectiveTriggerStatusCodes);
        Assert.Equal([401, 403], new TokenOptions { TriggerStatusCodes = [401, 403] }.EffectiveTriggerStatusCodes);
    }

    [Fact]
    public void The_refresher_follows_the_wire_format_and_a_given_refresher_wins()
    {
        Assert.IsType<JsonTokenRefresher>(new TokenOptions { RefreshEndpoint = Endpoint }.CreateRefresher(TokenClient));
        var oauth = Assert.IsType<OAuth2TokenRefresher>(new TokenOptions { Format = TokenWireFormat.OAuth2, RefreshEndpoint = Endpoint }.CreateRefresher(TokenClient));
        Assert.Equal(Endpoint, oauth.Endpoint);
        var own = new DelegateTokenRefresher((_, _) => null!);
        Assert.Same(own, new TokenOptions { Refresher = own, Grant = TokenGrantType.ClientCredentials }.CreateRefresher(TokenClient));
        Assert.Null(new TokenOptions().CreateRefresher(TokenClient));
        Assert.Null(new TokenOptions { RefreshEndpoint = Endpoint, Grant = TokenGrantType.ClientCredentials, ClientId = "svc" }.CreateRefresher(TokenClient));
        Assert.Null(new TokenOptions { RefreshEndpoint = Endpoint, Acquirer = new StubAcquirer() }.CreateRefresher(TokenClient));
    }

    [Fact]
    public void The_acquirer_is_the_client_credentials_grant_at_the_endpoint_and_a_given_acquirer_wins()
    {
        var source = Assert.IsType<ClientCredentialsTokenSource>(
            new TokenOptions { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, ClientId = "svc" }.CreateAcquirer(TokenClient));
        Assert.Equal(Endpoint, source.Endpoint);
        var own = new StubAcquirer();
        Assert.Same(own, new TokenOptions { Acquirer = own }.CreateAcquirer(TokenClient));
        Assert.Null(new TokenOptions { RefreshEndpoint = Endpoint }.CreateAcquirer(TokenClient));
        Assert.Null(new TokenOptions { Grant = TokenGrantType.ClientCredentials, ClientId = "svc" }.CreateAcquirer(TokenClient));
        Assert.Null(new TokenOptions
        {
            Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, Refresher = new DelegateTokenRefresher((_, _) => null!),
        }.CreateAcquirer(TokenClient));
    }

    [Fact]
    public void The_store_is_a_file_when_a_path_is_given_memory_otherwise_and_a_given_store_wins()
    {
        Assert.IsType<InMemoryTokenStore>(new TokenOptions().CreateStore());
        Assert.IsType<InMemoryTokenStore>(new TokenOptions { TokenStorePath = "  " }.CreateStore());
        Assert.IsType<FileTokenStore>(new TokenOptions { TokenStorePath = Path.Combine(Path.GetTempPath(), "courier-tokens-never-written.json") }.CreateStore());
        var own = new InMemoryTokenStore();
        Assert.Same(own, new TokenOptions { Store = own, TokenStorePath = "tokens.json" }.CreateStore());
    }

    [Fact]
    public void Initial_credentials_come_from_the_configured_tokens_with_the_expiry_of_a_JWT_access_token()
    {
        var jwt = JwtExpiryTests.Jwt("""{"exp":1900000000}""");

        Assert.Null(new TokenOptions().InitialCredentials());
        Assert.Null(new TokenOptions { AccessToken = "", RefreshToken = "" }.InitialCredentials());
        Assert.Equal(new TokenPair("a-1", "r-1"), new TokenOptions { AccessToken = "a-1", RefreshToken = "r-1" }.InitialCredentials());
        Assert.Equal(new TokenPair("", "r-1"), new TokenOptions { RefreshToken = "r-1" }.InitialCredentials()); // refreshed at the first call
        Assert.Equal(new TokenPair("a-1", null), new TokenOptions { AccessToken = "a-1", RefreshToken = "" }.InitialCredentials());
        Assert.Equal(new TokenPair(jwt, "r-1", DateTimeOffset.FromUnixTimeSeconds(1_900_000_000)),
            new TokenOptions { AccessToken = jwt, RefreshToken = "r-1" }.InitialCredentials());
    }

    [Fact]
    public void Acquired_tokens_start_from_the_configured_access_token_only()
    {
        var jwt = JwtExpiryTests.Jwt("""{"exp":1900000000}""");
        TokenOptions Acquiring(string? access, string? refresh) =>
            new() { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = Endpoint, ClientId = "svc", AccessToken = access, RefreshToken = refresh };

        Assert.Null(Acquiring(null, "r-1").InitialCredentials()); // no refresh token with client credentials: the first call acquires
        Assert.Null(Acquiring("", null).InitialCredentials());
        Assert.Equal(new TokenPair("a-1", null), Acquiring("a-1", "r-1").InitialCredentials());
        Assert.Equal(new TokenPair(jwt, null, DateTimeOffset.FromUnixTimeSeconds(1_900_000_000)), Acquiring(jwt, null).InitialCredentials());
        Assert.Equal(new TokenPair("a-1", null), new TokenOptions { Acquirer = new StubAcquirer(), AccessToken = "a-1", RefreshToken = "r-1" }.InitialCredentials());
    }

    private sealed class StubAcquirer : ITokenAcquirer
    {
        public Task<TokenRefreshResult> AcquireAsync(CancellationToken cancellationToken) =>
            Task.FromResult<TokenRefreshResult>(new TokenRefreshResult.Refreshed("a-1", null, null));
    }
}
