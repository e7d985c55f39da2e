namespace Courier.Auth;

/// <summary>The token endpoint's wire format.</summary>
public enum TokenWireFormat
{
    /// <summary>The seeds' JSON contract: <c>{ "refresh" }</c> answered by <c>{ "accessToken", "refreshToken"?, "expiresIn"? }</c>.</summary>
    Json,
    /// <summary>OAuth 2.0, RFC 6749 §6: form-encoded <c>grant_type=refresh_token</c> with client authentication.</summary>
    OAuth2,
}

/// <summary>How the runtime gets its access tokens.</summary>
public enum TokenGrantType
{
    /// <summary>A sign-in (or configured tokens) gives a refresh token; the TokenActor renews with it (RFC 6749 §6 or the seeds' JSON).</summary>
    RefreshToken,
    /// <summary>
    /// The client credentials grant (RFC 6749 §4.4) with <see cref="TokenOptions.ClientId"/>, <see cref="TokenOptions.ClientSecret"/>,
    /// <see cref="TokenOptions.Scope"/>, <see cref="TokenOptions.Resources"/> and <see cref="TokenOptions.Audience"/> at
    /// <see cref="TokenOptions.RefreshEndpoint"/>: no sign-in, no refresh token; a token is got at the first call, again
    /// ahead of expiry and when a call is refused.
    /// </summary>
    ClientCredentials,
}

/// <summary>
/// Authentication settings (configuration section <c>Courier:Auth</c>). When <see cref="HttpRuntimeOptions.Auth"/> is set,
/// a TokenActor owns the credentials and every call that is not anonymous carries its access token.
/// </summary>
public sealed class TokenOptions
{
    /// <summary>The token endpoint's format.</summary>
    /// <value>The default value is <see cref="TokenWireFormat.Json"/>.</value>
    public TokenWireFormat Format { get; set; } = TokenWireFormat.Json;

    /// <summary>How tokens are got (issue 11).</summary>
    /// <value>The default value is <see cref="TokenGrantType.RefreshToken"/>.</value>
    public TokenGrantType Grant { get; set; } = TokenGrantType.RefreshToken;

    /// <summary>Resource indicators (RFC 8707) asked for with <see cref="TokenGrantType.ClientCredentials"/>, each an absolute URI.</summary>
    /// <value>The default value is <see langword="null"/> (none).</value>
    public IList<string>? Resources { get; set; }

    /// <summary>An <c>audience</c> parameter sent with <see cref="TokenGrantType.ClientCredentials"/> (Auth0 and some others use it instead of resources).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? Audience { get; set; }

    /// <summary>The token (refresh) endpoint. Required unless <see cref="Refresher"/> is given.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Uri? RefreshEndpoint { get; set; }

    /// <summary>OAuth 2.0 client id.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ClientId { get; set; }

    /// <summary>OAuth 2.0 client secret (confidential clients).</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? ClientSecret { get; set; }

    /// <summary>How the OAuth 2.0 client authenticates.</summary>
    /// <value>The default value is <see cref="ClientAuthentication.Basic"/>.</value>
    public ClientAuthentication ClientAuthentication { get; set; } = ClientAuthentication.Basic;

    /// <summary>OAuth 2.0 scope to ask for on refresh.</summary>
    /// <value>The default value is <see langword="null"/> (the scope of the original grant).</value>
    public string? Scope { get; set; }

    /// <summary>Allow a plain-http token endpoint on a host other than loopback.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool AllowInsecureHttp { get; set; }

    /// <summary>An initial access token, used when the store holds none.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? AccessToken { get; set; }

    /// <summary>An initial refresh token, used when the store holds none.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? RefreshToken { get; set; }

    /// <summary>A file to keep the credentials in (see <see cref="FileTokenStore"/>); unset keeps them in memory.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public string? TokenStorePath { get; set; }

    /// <summary>
    /// Response statuses that mean "the access token was refused". A configured list replaces the default.
    /// </summary>
    /// <value>The default value is <see langword="null"/>, meaning 401 only (some servers use 403: list both, or 403 alone).</value>
    public IList<int>? TriggerStatusCodes { get; set; }

    internal IReadOnlyCollection<int> EffectiveTriggerStatusCodes => (IReadOnlyCollection<int>?)TriggerStatusCodes?.ToArray() ?? [401];

    /// <summary>The header the access token goes in.</summary>
    /// <value>The default value is <c>Authorization</c>.</value>
    public string HeaderName { get; set; } = "Authorization";

    /// <summary>The scheme before the token in <see cref="HeaderName"/>; empty for a bare token (custom headers).</summary>
    /// <value>The default value is <c>Bearer</c>.</value>
    public string? Scheme { get; set; } = "Bearer";

    /// <summary>How long before a known expiry the token is refreshed.</summary>
    /// <value>The default value is 60 s, shortened by <see cref="ProactiveRefreshFraction"/> for short-lived tokens.</value>
    public TimeSpan ProactiveRefreshMargin { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The largest share of a token's lifetime the margin may take (so a 30 s token is refreshed 6 s early, not 60).</summary>
    /// <value>The default value is 0.2.</value>
    public double ProactiveRefreshFraction { get; set; } = 0.2;

    /// <summary>Refresh before the token expires at all. When off, the token is refreshed when it is refused or known to be expired.</summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool ProactiveRefresh { get; set; } = true;

    /// <summary>How long callers may wait for one refresh, retries included; then they fail with an authentication error.</summary>
    /// <value>The default value is 30 s.</value>
    public TimeSpan RefreshTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How long one request to the token endpoint may take.</summary>
    /// <value>The default value is 10 s.</value>
    public TimeSpan RefreshAttemptTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// How long the token store may take to write a refreshed pair. The server has already rotated the pair, so past this
    /// the new pair is used from memory (the write goes on, and <see cref="TokenStoreWriteOverdue"/> is published).
    /// </summary>
    /// <value>The default value is 10 s.</value>
    public TimeSpan StoreWriteTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How many times a refresh that failed for a passing reason (connection, timeout, 5xx) is retried.</summary>
    /// <value>The default value is 3.</value>
    public int RefreshMaxRetries { get; set; } = 3;

    /// <summary>A refresher to use instead of <see cref="Format"/> and <see cref="RefreshEndpoint"/> (not bound from configuration).</summary>
    public ITokenRefresher? Refresher { get; set; }

    /// <summary>A store to use instead of <see cref="TokenStorePath"/> (not bound from configuration).</summary>
    public ITokenStore? Store { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Refresher is null && RefreshEndpoint is not null) TokenEndpointGuard.Validate(RefreshEndpoint, AllowInsecureHttp);
        if (string.IsNullOrWhiteSpace(HeaderName)) throw new ArgumentException("Courier:Auth:HeaderName must not be empty.", nameof(HeaderName));
        if (TriggerStatusCodes is { Count: 0 }) throw new ArgumentException("Courier:Auth:TriggerStatusCodes must name at least one status.", nameof(TriggerStatusCodes));
        if (ProactiveRefreshMargin < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(ProactiveRefreshMargin), "Courier:Auth:ProactiveRefreshMargin must not be negative.");
        if (ProactiveRefreshFraction is < 0 or > 1) throw new ArgumentOutOfRangeException(nameof(ProactiveRefreshFraction), "Courier:Auth:ProactiveRefreshFraction must be between 0 and 1.");
        if (RefreshTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RefreshTimeout), "Courier:Auth:RefreshTimeout must be positive.");
        if (RefreshAttemptTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(RefreshAttemptTimeout), "Courier:Auth:RefreshAttemptTimeout must be positive.");
        if (StoreWriteTimeout <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(StoreWriteTimeout), "Courier:Auth:StoreWriteTimeout must be positive.");
        if (RefreshMaxRetries is < 0 or > 100) throw new ArgumentOutOfRangeException(nameof(RefreshMaxRetries), "Courier:Auth:RefreshMaxRetries must be between 0 and 100.");
        if (!string.IsNullOrEmpty(ClientSecret) && string.IsNullOrEmpty(ClientId)) throw new ArgumentException("Courier:Auth:ClientSecret needs a ClientId.", nameof(ClientId));
        if (Grant == TokenGrantType.ClientCredentials && Refresher is null)
        {
            if (RefreshEndpoint is null) throw new ArgumentException("Courier:Auth:RefreshEndpoint (the token endpoint) is required for Grant ClientCredentials.", nameof(RefreshEndpoint));
            if (string.IsNullOrEmpty(ClientId)) throw new ArgumentException("Courier:Auth:ClientId is required for Grant ClientCredentials.", nameof(ClientId));
            foreach (var resource in Resources ?? [])
                if (!Uri.TryCreate(resource, UriKind.Absolute, out _)) throw new ArgumentException("Courier:Auth:Resources must hold absolute URIs (RFC 8707).", nameof(Resources));
        }
    }

    /// <summary>The refresher these options describe, sending through <paramref name="tokenClient"/>; null when there is no endpoint.</summary>
    public ITokenRefresher? CreateRefresher(HttpClient tokenClient)
    {
        if (Refresher is not null) return Refresher;
        if (RefreshEndpoint is null) return null;
        if (Grant == TokenGrantType.ClientCredentials)
            return new ClientCredentialsTokenSource(tokenClient, RefreshEndpoint, ClientId!, ClientSecret, ClientAuthentication, Scope, Resources, Audience, AllowInsecureHttp);
        return Format switch
        {
            TokenWireFormat.OAuth2 => new OAuth2TokenRefresher(tokenClient, RefreshEndpoint, ClientId, ClientSecret, ClientAuthentication, Scope, AllowInsecureHttp),
            _ => new JsonTokenRefresher(tokenClient, RefreshEndpoint, AllowInsecureHttp),
        };
    }

    /// <summary>The store these options describe.</summary>
    public ITokenStore CreateStore() =>
        Store ?? (string.IsNullOrWhiteSpace(TokenStorePath) ? new InMemoryTokenStore() : new FileTokenStore(TokenStorePath));

    /// <summary>The initial credentials from <see cref="AccessToken"/>/<see cref="RefreshToken"/>, if any.</summary>
    public TokenPair? InitialCredentials() =>
        // Client credentials: no token yet and a placeholder refresh token, so that the first call gets one (see
        // ClientCredentialsTokenSource; a TokenActor that acquires without a refresh token will not need it).
        Grant == TokenGrantType.ClientCredentials ? new TokenPair(AccessToken ?? "", ClientCredentialsTokenSource.PlaceholderRefreshToken, JwtExpiry.TryRead(AccessToken))
        : AccessToken is { Length: > 0 } || RefreshToken is { Length: > 0 }
            ? new TokenPair(AccessToken ?? "", RefreshToken is { Length: > 0 } ? RefreshToken : null, JwtExpiry.TryRead(AccessToken))
            : null;
}
