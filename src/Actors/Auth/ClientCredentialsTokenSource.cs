using System.Net;
using Duende.IdentityModel.Client;

namespace Courier.Auth;

/// <summary>
/// Gets a new access token without a refresh token: one request to the token endpoint, no retries (the TokenActor
/// schedules those, single-flight, as it does for refreshes).
/// </summary>
public interface ITokenAcquirer
{
    /// <summary>Performs one token request.</summary>
    Task<TokenRefreshResult> AcquireAsync(CancellationToken cancellationToken);
}

/// <summary>
/// The OAuth 2.0 client credentials grant (RFC 6749 §4.4), for service-to-service calls: the client authenticates and
/// gets an access token for itself, with a scope and, when given, resource indicators (RFC 8707) or an audience. There is
/// no refresh token: the TokenActor gets a new token ahead of expiry (its proactive timer) and when a call is refused
/// with a trigger status.
/// </summary>
/// <remarks>
/// The token endpoint protocol (client authentication, form encoding, RFC 6749 §5.2 error parsing) is
/// Duende.IdentityModel's <c>RequestClientCredentialsTokenAsync</c>; this class only sorts its answers into the runtime's
/// outcomes. The TokenActor runs it through its refresh core as an acquisition: one request at a time, retries,
/// timeouts, and no refresh token to keep or lose.
/// </remarks>
public sealed class ClientCredentialsTokenSource : ITokenAcquirer
{
    private readonly HttpClient _client;
    private readonly string _clientId;
    private readonly string? _clientSecret;
    private readonly ClientAuthentication _authentication;
    private readonly string? _scope;
    private readonly string[] _resources;
    private readonly string? _audience;

    /// <summary>Creates the source.</summary>
    /// <param name="client">The client for token requests only (never the request path's client).</param>
    /// <param name="endpoint">The token endpoint: https, unless loopback or <paramref name="allowInsecureHttp"/>.</param>
    /// <param name="clientId">The client id.</param>
    /// <param name="clientSecret">The client secret.</param>
    /// <param name="authentication">How the client authenticates (HTTP Basic by default).</param>
    /// <param name="scope">The scope to ask for (space-separated), or null for the client's default.</param>
    /// <param name="resources">Resource indicators (RFC 8707), each an absolute URI; none by default.</param>
    /// <param name="audience">An <c>audience</c> parameter (Auth0, some others), or null.</param>
    /// <param name="allowInsecureHttp">Allow a plain-http endpoint on a non-loopback host.</param>
    public ClientCredentialsTokenSource(HttpClient client, Uri endpoint, string clientId, string? clientSecret,
        ClientAuthentication authentication = ClientAuthentication.Basic, string? scope = null, IEnumerable<string>? resources = null,
        string? audience = null, bool allowInsecureHttp = false)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        Endpoint = TokenEndpointGuard.Validate(endpoint, allowInsecureHttp);
        ArgumentException.ThrowIfNullOrEmpty(clientId);
        _clientId = clientId;
        _clientSecret = clientSecret;
        _authentication = authentication;
        _scope = string.IsNullOrWhiteSpace(scope) ? null : scope.Trim();
        _resources = resources?.Where(r => !string.IsNullOrWhiteSpace(r)).ToArray() ?? [];
        foreach (var resource in _resources)
            if (!Uri.TryCreate(resource, UriKind.Absolute, out _))
                throw new ArgumentException($"The resource indicator '{resource}' is not an absolute URI (RFC 8707 §2).", nameof(resources));
        _audience = string.IsNullOrWhiteSpace(audience) ? null : audience.Trim();
    }

    /// <summary>The token endpoint.</summary>
    public Uri Endpoint { get; }

    /// <inheritdoc />
    public async Task<TokenRefreshResult> AcquireAsync(CancellationToken cancellationToken)
    {
        var request = new ClientCredentialsTokenRequest
        {
            Address = Endpoint.AbsoluteUri,
            ClientId = _clientId,
            ClientSecret = _clientSecret,
            // RFC 6749 §2.3.1 Basic (id and secret form-encoded first) or both in the body; a public client has no secret.
            ClientCredentialStyle = _authentication == ClientAuthentication.Basic && _clientSecret is not null
                ? ClientCredentialStyle.AuthorizationHeader : ClientCredentialStyle.PostBody,
            Scope = _scope,
        };
        foreach (var resource in _resources) request.Resource.Add(resource);
        if (_audience is not null) request.Parameters.Add("audience", _audience);

        var response = await _client.RequestClientCredentialsTokenAsync(request, cancellationToken).ConfigureAwait(false);
        cancellationToken.ThrowIfCancellationRequested();
        return ToResult(response);
    }

    /// <summary>Sorts an answer into the runtime's outcomes; no message carries a token or the server's free text.</summary>
    internal static TokenRefreshResult ToResult(TokenResponse response)
    {
        if (!response.IsError)
        {
            if (string.IsNullOrEmpty(response.AccessToken))
                return new TokenRefreshResult.Failed("the token endpoint answered without an access token");
            // expires_in is optional (RFC 6749 §5.1); absent, the JWT's exp (if any) is used by the TokenActor.
            return new TokenRefreshResult.Refreshed(response.AccessToken, null, response.ExpiresIn > 0 ? TimeSpan.FromSeconds(response.ExpiresIn) : null);
        }

        var status = (int)response.HttpStatusCode;
        // A 400 is a protocol error whose Error is the OAuth code; on a 401 IdentityModel reports the reason phrase, and the
        // code (invalid_client) is in the body it parsed.
        var code = HttpTokenRefresher.FormatErrorCode(response.ErrorType == ResponseErrorType.Protocol ? response.Error : response.TryGet("error"));
        return response.ErrorType switch
        {
            ResponseErrorType.Exception => new TokenRefreshResult.Failed(
                $"the token endpoint could not be reached ({response.Exception?.GetType().Name ?? "error"})", response.Exception),
            // RFC 6749 §5.2: 400 (invalid_client, invalid_scope, unauthorized_client...) and 401 are final; a 403 is a proxy or WAF.
            _ when response.HttpStatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized =>
                new TokenRefreshResult.Rejected($"the token endpoint refused the client credentials with {status}{code}"),
            ResponseErrorType.Http or ResponseErrorType.Protocol when status != 0 =>
                new TokenRefreshResult.Failed($"the token endpoint answered {status}{code}"),
            _ => new TokenRefreshResult.Failed($"the token endpoint's answer could not be read{code}"),
        };
    }
}
