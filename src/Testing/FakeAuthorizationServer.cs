using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Courier.Testing;

/// <summary>
/// An in-memory authorization server as an <see cref="HttpMessageHandler"/>, for the runtime's token client
/// (<see cref="TestRuntime.Start"/> wires it). It speaks both wire formats: the seeds' JSON (<c>POST /auth/refresh</c>
/// <c>{"refresh"}</c> answered by <c>{"accessToken","refreshToken","expiresIn"}</c>) and OAuth 2.0 form posts
/// (<c>POST /oauth/token</c>, <c>grant_type=refresh_token</c> or <c>client_credentials</c>, RFC 6749). Refresh tokens rotate;
/// presenting a rotated one again revokes its whole family (RFC 9700 §4.14.2), so a double refresh shows up in
/// <see cref="ReuseEvents"/> and in failing calls. Time never passes by itself: <see cref="ExpireAccessTokens"/> expires
/// tokens, so tests on a TestScheduler stay deterministic. Thread-safe.
/// </summary>
public sealed class FakeAuthorizationServer : HttpMessageHandler
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Family> _familyByRefresh = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (Family Family, long Sequence)> _access = new(StringComparer.Ordinal);
    private long _sequence;
    private long _expiredThrough;
    private int _pendingFailures;
    private HttpStatusCode _failureStatus;
    private long _refreshes, _reuseEvents, _clientCredentialsGrants, _rejected;

    /// <summary>The base address the endpoints answer under.</summary>
    public static readonly Uri BaseAddress = new("https://auth.fake.test/");

    /// <summary>The JSON refresh endpoint (the seeds' contract).</summary>
    public static Uri JsonRefreshEndpoint => new(BaseAddress, "/auth/refresh");

    /// <summary>The OAuth 2.0 token endpoint.</summary>
    public static Uri OAuthTokenEndpoint => new(BaseAddress, "/oauth/token");

    /// <summary>The client id OAuth requests must authenticate with (Basic or in the body); null accepts any client.</summary>
    /// <value>The default value is <c>test-client</c>.</value>
    public string? ClientId { get; set; } = "test-client";

    /// <summary>The client secret that goes with <see cref="ClientId"/>.</summary>
    /// <value>The default value is <c>test-secret</c>.</value>
    public string? ClientSecret { get; set; } = "test-secret";

    /// <summary>The <c>expires_in</c> the server announces.</summary>
    /// <value>The default value is 300 s.</value>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Successful refresh_token grants (both formats).</summary>
    public long Refreshes => Interlocked.Read(ref _refreshes);

    /// <summary>Rotated refresh tokens presented again (each revoked a family).</summary>
    public long ReuseEvents => Interlocked.Read(ref _reuseEvents);

    /// <summary>Successful client_credentials grants.</summary>
    public long ClientCredentialsGrants => Interlocked.Read(ref _clientCredentialsGrants);

    /// <summary>Token requests refused (unknown, reused or revoked refresh token, bad client).</summary>
    public long Rejected => Interlocked.Read(ref _rejected);

    /// <summary>Token requests received (every format and outcome).</summary>
    public int Requests => Volatile.Read(ref _requests);

    private int _requests;

    /// <summary>Logs a user in: a new family, its first access and refresh tokens.</summary>
    public (string AccessToken, string RefreshToken) IssueTokens()
    {
        lock (_lock)
        {
            var family = new Family();
            var refresh = NewToken("rt");
            _familyByRefresh[refresh] = family;
            family.Current = refresh;
            return (IssueAccess(family), refresh);
        }
    }

    /// <summary>Whether a protected resource accepts <paramref name="accessToken"/> now.</summary>
    public bool Accepts(string? accessToken)
    {
        if (accessToken is null) return false;
        lock (_lock)
            return _access.TryGetValue(accessToken, out var entry) && !entry.Family.Revoked && entry.Sequence > _expiredThrough;
    }

    /// <summary>Every access token issued so far is expired from now on; later ones are not.</summary>
    public void ExpireAccessTokens()
    {
        lock (_lock) _expiredThrough = _sequence;
    }

    /// <summary>The next <paramref name="count"/> token requests are answered <paramref name="status"/> (503: passing; 400: final).</summary>
    public void FailNext(int count, HttpStatusCode status)
    {
        lock (_lock)
        {
            _pendingFailures = count;
            _failureStatus = status;
        }
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _requests);
        var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
        lock (_lock)
        {
            if (_pendingFailures > 0)
            {
                _pendingFailures--;
                return Error(_failureStatus, "injected");
            }
        }
        var path = request.RequestUri?.AbsolutePath;
        if (request.Method != HttpMethod.Post) return Error(HttpStatusCode.MethodNotAllowed, "invalid_request");
        return path switch
        {
            "/auth/refresh" => JsonRefresh(body),
            "/oauth/token" => OAuthToken(request, body),
            _ => Error(HttpStatusCode.NotFound, "not_found"),
        };
    }

    private HttpResponseMessage JsonRefresh(string body)
    {
        string? presented = null;
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.ValueKind == JsonValueKind.Object && doc.RootElement.TryGetProperty("refresh", out var value) && value.ValueKind == JsonValueKind.String)
                presented = value.GetString();
        }
        catch (JsonException)
        {
        }
        if (presented is null) return Error(HttpStatusCode.BadRequest, "invalid_request");
        return Refresh(presented) is { } pair
            ? Answer(new Dictionary<string, object> { ["accessToken"] = pair.Access, ["refreshToken"] = pair.Refresh, ["expiresIn"] = (int)AccessTokenLifetime.TotalSeconds })
            : Error(HttpStatusCode.Unauthorized, "invalid_grant");
    }

    private HttpResponseMessage OAuthToken(HttpRequestMessage request, string body)
    {
        var form = ParseForm(body);
        if (!ClientAuthenticated(request, form))
        {
            Interlocked.Increment(ref _rejected);
            return Error(HttpStatusCode.Unauthorized, "invalid_client");
        }
        switch (form.GetValueOrDefault("grant_type"))
        {
            case "refresh_token":
                if (form.GetValueOrDefault("refresh_token") is not { Length: > 0 } presented) return Error(HttpStatusCode.BadRequest, "invalid_request");
                return Refresh(presented) is { } pair
                    ? Answer(new Dictionary<string, object> { ["access_token"] = pair.Access, ["token_type"] = "Bearer", ["refresh_token"] = pair.Refresh, ["expires_in"] = (int)AccessTokenLifetime.TotalSeconds })
                    : Error(HttpStatusCode.BadRequest, "invalid_grant");
            case "client_credentials":
                string access;
                lock (_lock) access = IssueAccess(new Family());
                Interlocked.Increment(ref _clientCredentialsGrants);
                return Answer(new Dictionary<string, object> { ["access_token"] = access, ["token_type"] = "Bearer", ["expires_in"] = (int)AccessTokenLifetime.TotalSeconds });
            default:
                return Error(HttpStatusCode.BadRequest, "unsupported_grant_type");
        }
    }

    /// <summary>Rotates <paramref name="presented"/>; null when it is unknown, revoked or reused (reuse revokes the family).</summary>
    private (string Access, string Refresh)? Refresh(string presented)
    {
        lock (_lock)
        {
            if (!_familyByRefresh.TryGetValue(presented, out var family) || family.Revoked)
            {
                Interlocked.Increment(ref _rejected);
                return null;
            }
            if (family.Current != presented)
            {
                family.Revoked = true;
                Interlocked.Increment(ref _reuseEvents);
                Interlocked.Increment(ref _rejected);
                return null;
            }
            var next = NewToken("rt");
            _familyByRefresh[next] = family;
            family.Current = next;
            Interlocked.Increment(ref _refreshes);
            return (IssueAccess(family), next);
        }
    }

    private bool ClientAuthenticated(HttpRequestMessage request, Dictionary<string, string> form)
    {
        if (ClientId is null) return true;
        string? id = form.GetValueOrDefault("client_id"), secret = form.GetValueOrDefault("client_secret");
        if (request.Headers.Authorization is { Scheme: "Basic", Parameter: { } basic })
        {
            try
            {
                var pair = Encoding.UTF8.GetString(Convert.FromBase64String(basic)).Split(':', 2);
                if (pair.Length == 2) (id, secret) = (Uri.UnescapeDataString(pair[0]), Uri.UnescapeDataString(pair[1]));
            }
            catch (FormatException)
            {
                return false;
            }
        }
        return id == ClientId && (ClientSecret is null || secret == ClientSecret);
    }

    private string IssueAccess(Family family)
    {
        var token = NewToken("at");
        _access[token] = (family, ++_sequence);
        return token;
    }

    private static string NewToken(string prefix) => prefix + "-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));

    private static Dictionary<string, string> ParseForm(string body)
    {
        var form = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in body.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var kv = part.Split('=', 2);
            form[Uri.UnescapeDataString(kv[0].Replace('+', ' '))] = kv.Length > 1 ? Uri.UnescapeDataString(kv[1].Replace('+', ' ')) : "";
        }
        return form;
    }

    private static HttpResponseMessage Answer(Dictionary<string, object> fields)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(JsonSerializer.Serialize(fields), Encoding.UTF8, "application/json") };
        response.Headers.CacheControl = new() { NoStore = true };
        return response;
    }

    private static HttpResponseMessage Error(HttpStatusCode status, string code) =>
        new(status) { Content = new StringContent($"{{\"error\":\"{code}\"}}", Encoding.UTF8, "application/json") };

    private sealed class Family
    {
        public string? Current;
        public bool Revoked;
    }
}
