using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;

namespace Courier.Auth;

/// <summary>The shared part of the HTTP refreshers: sending, and sorting failures into definitive and passing ones.</summary>
public abstract class HttpTokenRefresher : ITokenRefresher
{
    private readonly HttpClient _client;

    /// <summary>Creates the refresher.</summary>
    /// <param name="client">The client used for token requests only (never the request path's client).</param>
    /// <param name="endpoint">The token endpoint: https, unless it is a loopback address or <paramref name="allowInsecureHttp"/> is set.</param>
    /// <param name="allowInsecureHttp">Allow a plain-http endpoint on a non-loopback host.</param>
    protected HttpTokenRefresher(HttpClient client, Uri endpoint, bool allowInsecureHttp)
    {
        _client = client ?? throw new ArgumentNullException(nameof(client));
        Endpoint = TokenEndpointGuard.Validate(endpoint, allowInsecureHttp);
    }

    /// <summary>The token endpoint.</summary>
    public Uri Endpoint { get; }

    /// <inheritdoc />
    public async Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(refreshToken);
        using var request = CreateRequest(refreshToken);
        HttpResponseMessage response;
        try
        {
            response = await _client.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return new TokenRefreshResult.Failed($"the token endpoint could not be reached ({ex.GetType().Name}: {ex.Message})", ex);
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is HttpRequestException or IOException)
            {
                return new TokenRefreshResult.Failed("the token endpoint's answer was cut off", ex);
            }

            var status = (int)response.StatusCode;
            if (response.IsSuccessStatusCode)
            {
                try
                {
                    return (TokenRefreshResult?)ParseSuccess(body) ?? new TokenRefreshResult.Failed($"the token endpoint answered {status} without an access token");
                }
                catch (JsonException)
                {
                    return new TokenRefreshResult.Failed($"the token endpoint answered {status} with a body that is not the expected JSON");
                }
            }
            // RFC 6749 §5.2: 400 (invalid_grant, invalid_client...) and 401 (client authentication) are final. A 403 is
            // not an OAuth answer (a proxy or WAF): it must not sign the user out and clear the store.
            if (response.StatusCode is HttpStatusCode.BadRequest or HttpStatusCode.Unauthorized)
                return new TokenRefreshResult.Rejected($"the token endpoint answered {status}{ErrorCode(body)}");
            return new TokenRefreshResult.Failed($"the token endpoint answered {status}{ErrorCode(body)}");
        }
    }

    /// <summary>Builds the token request.</summary>
    protected abstract HttpRequestMessage CreateRequest(string refreshToken);

    /// <summary>Reads a success body; null when it has no access token.</summary>
    protected abstract TokenRefreshResult.Refreshed? ParseSuccess(string body);

    /// <summary>Reads <c>expires_in</c>-like values, numbers or numeric strings (some servers send strings).</summary>
    protected static TimeSpan? ReadSeconds(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out var value)) return null;
        return value.ValueKind switch
        {
            // Clamped to ten years: an absurd value must not overflow TimeSpan and turn a good answer into a failure.
            JsonValueKind.Number when value.TryGetDouble(out var n) && n >= 0 => TimeSpan.FromSeconds(Math.Min(n, MaxLifetimeSeconds)),
            JsonValueKind.String when double.TryParse(value.GetString(), System.Globalization.CultureInfo.InvariantCulture, out var s) && s >= 0 => TimeSpan.FromSeconds(Math.Min(s, MaxLifetimeSeconds)),
            _ => null,
        };
    }

    private const double MaxLifetimeSeconds = 10 * 365 * 24 * 3600.0;

    /// <summary>Reads a string property, or null.</summary>
    protected static string? ReadString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    /// <summary>" (code)" for a well-formed OAuth error code, else empty: a server's free text never reaches a message.</summary>
    internal static string FormatErrorCode(string? code) =>
        code is { Length: > 0 and < 64 } && code.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-' or '.') ? $" ({code})" : "";

    /// <summary>The OAuth <c>error</c> code of an error body, for messages (never the whole body: it may echo secrets).</summary>
    private static string ErrorCode(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object) return FormatErrorCode(ReadString(doc.RootElement, "error"));
        }
        catch (JsonException)
        {
        }
        return "";
    }
}

/// <summary>
/// The seeds' contract: <c>POST {endpoint}</c> with <c>{ "refresh": "…" }</c>, answered by
/// <c>{ "accessToken", "refreshToken"?, "expiresIn"? }</c>.
/// </summary>
public sealed class JsonTokenRefresher(HttpClient client, Uri endpoint, bool allowInsecureHttp = false)
    : HttpTokenRefresher(client, endpoint, allowInsecureHttp)
{
    /// <inheritdoc />
    protected override HttpRequestMessage CreateRequest(string refreshToken) => new(HttpMethod.Post, Endpoint)
    {
        Content = new ByteArrayContent(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["refresh"] = refreshToken }))
        {
            Headers = { ContentType = new MediaTypeHeaderValue("application/json") { CharSet = "utf-8" } },
        },
        Headers = { Accept = { new MediaTypeWithQualityHeaderValue("application/json") } },
    };

    /// <inheritdoc />
    protected override TokenRefreshResult.Refreshed? ParseSuccess(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || ReadString(root, "accessToken") is not { Length: > 0 } access) return null;
        return new(access, ReadString(root, "refreshToken") is { Length: > 0 } refresh ? refresh : null, ReadSeconds(root, "expiresIn"));
    }
}

/// <summary>How an OAuth 2.0 client authenticates to the token endpoint (RFC 6749 §2.3.1).</summary>
public enum ClientAuthentication
{
    /// <summary>HTTP Basic with the form-urlencoded client id and secret (<c>client_secret_basic</c>). The default.</summary>
    Basic,
    /// <summary><c>client_id</c> and <c>client_secret</c> in the request body (<c>client_secret_post</c>).</summary>
    Body,
}

/// <summary>
/// OAuth 2.0 refresh (RFC 6749 §6): form-encoded <c>grant_type=refresh_token&amp;refresh_token=…</c> with client
/// authentication, answered by <c>{ "access_token", "refresh_token"?, "expires_in"? }</c>. Works against real
/// authorization servers.
/// </summary>
public sealed class OAuth2TokenRefresher : HttpTokenRefresher
{
    private readonly string? _clientId;
    private readonly string? _clientSecret;
    private readonly ClientAuthentication _authentication;
    private readonly string? _scope;

    /// <summary>Creates the refresher. A public client gives a client id and no secret: the id then goes in the body.</summary>
    public OAuth2TokenRefresher(HttpClient client, Uri endpoint, string? clientId, string? clientSecret,
        ClientAuthentication authentication = ClientAuthentication.Basic, string? scope = null, bool allowInsecureHttp = false)
        : base(client, endpoint, allowInsecureHttp)
    {
        _clientId = clientId;
        _clientSecret = clientSecret;
        _authentication = authentication;
        _scope = scope;
    }

    /// <inheritdoc />
    protected override HttpRequestMessage CreateRequest(string refreshToken)
    {
        var form = new List<KeyValuePair<string, string>>
        {
            new("grant_type", "refresh_token"),
            new("refresh_token", refreshToken),
        };
        if (!string.IsNullOrEmpty(_scope)) form.Add(new("scope", _scope));

        var request = new HttpRequestMessage(HttpMethod.Post, Endpoint);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        if (_clientId is not null)
        {
            if (_clientSecret is not null && _authentication == ClientAuthentication.Basic)
            {
                // RFC 6749 §2.3.1: id and secret are form-urlencoded before they are joined and base64-encoded.
                var credentials = Uri.EscapeDataString(_clientId) + ":" + Uri.EscapeDataString(_clientSecret);
                request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(credentials)));
            }
            else
            {
                form.Add(new("client_id", _clientId));
                if (_clientSecret is not null) form.Add(new("client_secret", _clientSecret));
            }
        }
        request.Content = new FormUrlEncodedContent(form);
        return request;
    }

    /// <inheritdoc />
    protected override TokenRefreshResult.Refreshed? ParseSuccess(string body)
    {
        using var doc = JsonDocument.Parse(body);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object || ReadString(root, "access_token") is not { Length: > 0 } access) return null;
        return new(access, ReadString(root, "refresh_token") is { Length: > 0 } refresh ? refresh : null, ReadSeconds(root, "expires_in"));
    }
}

/// <summary>Refuses to send refresh tokens in clear text to anything but this machine, unless told to.</summary>
public static class TokenEndpointGuard
{
    /// <summary>Returns <paramref name="endpoint"/> when it is acceptable, else throws an <see cref="ArgumentException"/> saying why.</summary>
    public static Uri Validate(Uri endpoint, bool allowInsecureHttp)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (!endpoint.IsAbsoluteUri)
            throw new ArgumentException($"The token endpoint '{endpoint}' must be an absolute URL.", nameof(endpoint));
        if (endpoint.Scheme == Uri.UriSchemeHttps) return endpoint;
        if (endpoint.Scheme != Uri.UriSchemeHttp)
            throw new ArgumentException($"The token endpoint must be an http(s) URL, not '{endpoint.Scheme}:'.", nameof(endpoint));
        if (endpoint.IsLoopback || allowInsecureHttp) return endpoint;
        throw new ArgumentException(
            $"The token endpoint {Diagnostics.SafeUrl.Format(endpoint)} uses plain http: refresh tokens would travel in clear text. " +
            "Use https, or set Auth:AllowInsecureHttp for a trusted network.", nameof(endpoint));
    }
}
