using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Courier.Sandbox;

namespace Courier.Tests.Sandbox;

/// <summary>Exercises the sandbox server over real HTTP with a plain <see cref="HttpClient"/>.</summary>
public sealed class SandboxServerTests
{
    private static readonly TimeSpan ClientTimeout = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Echo_describes_the_request()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        using var request = new HttpRequestMessage(HttpMethod.Post, "api/orders/7?expand=lines")
        {
            Content = new StringContent("{\"qty\":2}", Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("X-Sandbox-Key", "echo");
        request.Headers.Add("X-Custom", "hello");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var echo = await ReadJsonAsync(response);
        var root = echo.RootElement;
        Assert.Equal("POST", root.GetProperty("method").GetString());
        Assert.Equal("/api/orders/7", root.GetProperty("path").GetString());
        Assert.Equal("?expand=lines", root.GetProperty("query").GetString());
        Assert.Equal("hello", root.GetProperty("headers").GetProperty("X-Custom").GetString());
        Assert.Equal("{\"qty\":2}", root.GetProperty("body").GetString());
        Assert.Equal("echo", root.GetProperty("key").GetString());
        Assert.Equal(1, root.GetProperty("attempt").GetInt64());
    }

    [Fact]
    public async Task Fail_first_answers_the_injected_status_with_retry_after_then_echoes()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        for (var attempt = 1; attempt <= 2; attempt++)
        {
            using var failed = await http.SendAsync(FaultRequest("fail", ("X-Fault-Fail-First", "2"), ("X-Fault-Retry-After", "3")));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(3), failed.Headers.RetryAfter?.Delta);
            using var body = await ReadJsonAsync(failed);
            Assert.Equal("injected", body.RootElement.GetProperty("error").GetString());
            Assert.Equal(attempt, body.RootElement.GetProperty("attempt").GetInt64());
        }

        await ExpectEchoOfAttemptAsync(http, FaultRequest("fail", ("X-Fault-Fail-First", "2"), ("X-Fault-Retry-After", "3")), 3);
    }

    [Fact]
    public async Task Fault_status_and_http_date_retry_after_are_honoured()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        const string HttpDate = "Wed, 21 Oct 2015 07:28:00 GMT";

        using var response = await http.SendAsync(FaultRequest(
            "status", ("X-Fault-Fail-First", "1"), ("X-Fault-Status", "429"), ("X-Fault-Retry-After", HttpDate)));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal(DateTimeOffset.Parse(HttpDate, System.Globalization.CultureInfo.InvariantCulture), response.Headers.RetryAfter?.Date);
    }

    [Fact]
    public async Task Abort_first_cuts_the_body_and_makes_HttpClient_throw()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        await Assert.ThrowsAnyAsync<HttpRequestException>(
            () => http.SendAsync(FaultRequest("abort", ("X-Fault-Abort-First", "1"))));

        await ExpectEchoOfAttemptAsync(http, FaultRequest("abort", ("X-Fault-Abort-First", "1")), 2);
    }

    [Fact]
    public async Task Hang_first_never_answers_until_the_client_gives_up()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        using (var giveUp = new CancellationTokenSource())
        {
            var hanging = http.SendAsync(FaultRequest("hang", ("X-Fault-Hang-First", "1")), giveUp.Token);
            await WaitUntilAsync(() => server.Counters.For("hang").InFlight == 1);
            // Nothing comes back while the client waits (a bounded negative check, like ExpectNoMsg).
            await Assert.ThrowsAsync<TimeoutException>(() => hanging.WaitAsync(TimeSpan.FromMilliseconds(100)));

            await giveUp.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hanging);
        }

        // The server notices the client went away and ends the hanging request.
        await WaitUntilAsync(() => server.Counters.For("hang").InFlight == 0);
        using var ok = await http.SendAsync(FaultRequest("hang", ("X-Fault-Hang-First", "1")));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
    }

    [Fact]
    public async Task Counters_are_kept_per_key_with_max_in_flight()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        var slow = Enumerable.Range(0, 8)
            .Select(_ => http.SendAsync(FaultRequest("busy", ("X-Fault-Latency-Ms", "400"))))
            .ToArray();
        foreach (var response in await Task.WhenAll(slow))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            response.Dispose();
        }

        for (var i = 0; i < 3; i++)
        {
            using var request = FaultRequest("quiet");
            request.Method = HttpMethod.Put;
            request.Headers.Add("Idempotency-Key", i < 2 ? "op-1" : "op-2");
            (await http.SendAsync(request)).Dispose();
        }

        var busy = server.Counters.For("busy");
        Assert.Equal(8, busy.Requests);
        Assert.Equal(0, busy.InFlight);
        Assert.InRange(busy.MaxInFlight, 2, 8);
        Assert.Equal(8, busy.ByMethod["GET"]);

        var quiet = server.Counters.For("quiet");
        Assert.Equal(3, quiet.Requests);
        Assert.Equal(1, quiet.MaxInFlight);
        Assert.Equal(3, quiet.ByMethod["PUT"]);
        Assert.Equal(2, quiet.ByIdempotencyKey["op-1"]);
        Assert.Equal(1, quiet.ByIdempotencyKey["op-2"]);
        Assert.Equal(0, server.Counters.For("never-used").Requests);

        using (var overHttp = await ReadJsonAsync(await http.GetAsync("_sandbox/counters/quiet")))
        {
            Assert.Equal(3, overHttp.RootElement.GetProperty("requests").GetInt64());
            Assert.Equal(2, overHttp.RootElement.GetProperty("byIdempotencyKey").GetProperty("op-1").GetInt64());
        }

        (await http.PostAsync("_sandbox/reset", null)).Dispose();
        Assert.Equal(0, server.Counters.For("quiet").Requests);
    }

    [Fact]
    public async Task Refresh_rotates_and_reuse_of_the_old_token_revokes_the_family()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        using var login = await ReadJsonAsync(await http.PostAsync("auth/login", Json(new { username = "demo", password = "demo-password" })));
        var firstRefresh = login.RootElement.GetProperty("refreshToken").GetString()!;
        Assert.True(login.RootElement.GetProperty("expiresIn").GetInt32() > 0);

        using var refreshed = await http.PostAsync("auth/refresh", Json(new { refresh = firstRefresh }));
        Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        using var rotated = await ReadJsonAsync(refreshed);
        var secondAccess = rotated.RootElement.GetProperty("accessToken").GetString()!;
        var secondRefresh = rotated.RootElement.GetProperty("refreshToken").GetString()!;
        Assert.NotEqual(firstRefresh, secondRefresh);
        Assert.Equal(HttpStatusCode.OK, (await GetSecureAsync(http, secondAccess)).StatusCode);

        using var reuse = await http.PostAsync("auth/refresh", Json(new { refresh = firstRefresh }));
        Assert.Equal(HttpStatusCode.Unauthorized, reuse.StatusCode);
        using (var error = await ReadJsonAsync(reuse))
        {
            Assert.Equal("invalid_grant", error.RootElement.GetProperty("error").GetString());
        }

        Assert.Equal(1, server.Auth.ReuseEvents);
        Assert.Equal(1, server.Auth.RefreshesPerformed);

        // The whole family is gone: the newest refresh token and the newest access token alike.
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.PostAsync("auth/refresh", Json(new { refresh = secondRefresh }))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetSecureAsync(http, secondAccess)).StatusCode);
        Assert.Equal(1, server.Auth.ReuseEvents);
    }

    [Fact]
    public async Task Concurrent_refreshes_with_one_token_have_exactly_one_winner()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        var (_, refreshToken, _) = server.Auth.IssueTokens();
        server.Auth.RefreshLatency = TimeSpan.FromMilliseconds(100);

        var responses = await Task.WhenAll(Enumerable.Range(0, 2)
            .Select(_ => http.PostAsync("auth/refresh", Json(new { refresh = refreshToken }))));

        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Unauthorized);
        Assert.Equal(1, server.Auth.ReuseEvents);
    }

    [Fact]
    public async Task Failed_refreshes_do_not_consume_the_refresh_token()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        var (_, refreshToken, _) = server.Auth.IssueTokens();
        server.Auth.FailNextRefreshes(2, 503);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.PostAsync("auth/refresh", Json(new { refresh = refreshToken }))).StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await http.PostAsync("auth/refresh", Json(new { refresh = refreshToken }))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.PostAsync("auth/refresh", Json(new { refresh = refreshToken }))).StatusCode);
        Assert.Equal(0, server.Auth.ReuseEvents);
    }

    [Fact]
    public async Task OAuth_token_endpoint_accepts_basic_and_body_client_authentication()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);

        using var basic = new HttpRequestMessage(HttpMethod.Post, "oauth/token")
        {
            Content = Form(("grant_type", "password"), ("username", "demo"), ("password", "demo-password")),
        };
        basic.Headers.Authorization = BasicAuth("courier-cli", "courier-secret");
        using var basicResponse = await http.SendAsync(basic);
        Assert.Equal(HttpStatusCode.OK, basicResponse.StatusCode);
        Assert.True(basicResponse.Headers.CacheControl?.NoStore);
        using var tokens = await ReadJsonAsync(basicResponse);
        Assert.Equal("Bearer", tokens.RootElement.GetProperty("token_type").GetString());
        Assert.True(tokens.RootElement.GetProperty("expires_in").GetInt32() > 0);
        var refreshToken = tokens.RootElement.GetProperty("refresh_token").GetString()!;

        using var bodyAuth = await http.PostAsync("oauth/token", Form(
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
            ("client_id", "courier-cli"), ("client_secret", "courier-secret")));
        Assert.Equal(HttpStatusCode.OK, bodyAuth.StatusCode);
        using (var refreshed = await ReadJsonAsync(bodyAuth))
        {
            Assert.NotEqual(refreshToken, refreshed.RootElement.GetProperty("refresh_token").GetString());
        }

        using var reuse = await http.PostAsync("oauth/token", Form(
            ("grant_type", "refresh_token"), ("refresh_token", refreshToken),
            ("client_id", "courier-cli"), ("client_secret", "courier-secret")));
        Assert.Equal(HttpStatusCode.BadRequest, reuse.StatusCode);
        Assert.Equal("invalid_grant", await ErrorAsync(reuse));

        using var badClient = await http.PostAsync("oauth/token", Form(
            ("grant_type", "password"), ("username", "demo"), ("password", "demo-password"),
            ("client_id", "courier-cli"), ("client_secret", "wrong")));
        Assert.Equal(HttpStatusCode.Unauthorized, badClient.StatusCode);
        Assert.Equal("Basic", Assert.Single(badClient.Headers.WwwAuthenticate).Scheme);
        Assert.Equal("invalid_client", await ErrorAsync(badClient));

        using var unsupported = await http.PostAsync("oauth/token", Form(
            ("grant_type", "urn:example:unsupported"), ("client_id", "courier-cli"), ("client_secret", "courier-secret")));
        Assert.Equal(HttpStatusCode.BadRequest, unsupported.StatusCode);
        Assert.Equal("unsupported_grant_type", await ErrorAsync(unsupported));
    }

    [Fact]
    public async Task Basic_client_credentials_are_form_urlencoded_before_base64()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxOptions
        {
            Auth = new SandboxAuthOptions { ClientId = "my client", ClientSecret = "s3cr:t+/%" },
        });
        using var http = Client(server);
        using var request = new HttpRequestMessage(HttpMethod.Post, "oauth/token")
        {
            Content = Form(("grant_type", "password"), ("username", "demo"), ("password", "demo-password")),
        };
        request.Headers.Authorization = BasicAuth("my client", "s3cr:t+/%");

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Expired_access_token_is_refused_with_a_bearer_challenge()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        var (accessToken, refreshToken, _) = server.Auth.IssueTokens();
        Assert.Equal(HttpStatusCode.OK, (await GetSecureAsync(http, accessToken)).StatusCode);

        server.Auth.ExpireAccessTokens();
        using var expired = await GetSecureAsync(http, accessToken);

        Assert.Equal(HttpStatusCode.Unauthorized, expired.StatusCode);
        var challenge = Assert.Single(expired.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains("error=\"invalid_token\"", challenge.Parameter);
        Assert.Equal(1, server.Auth.RejectedExpired);
        Assert.Equal(0, server.Auth.RejectedInvalid);

        using var refreshed = await ReadJsonAsync(await http.PostAsync("auth/refresh", Json(new { refresh = refreshToken })));
        var fresh = refreshed.RootElement.GetProperty("accessToken").GetString()!;
        Assert.Equal(HttpStatusCode.OK, (await GetSecureAsync(http, fresh)).StatusCode);
    }

    [Fact]
    public async Task Expired_status_code_is_configurable()
    {
        await using var server = await SandboxServer.StartAsync(new SandboxOptions { Auth = new SandboxAuthOptions { ExpiredStatusCode = 403 } });
        using var http = Client(server);

        using var response = await http.GetAsync("secure/anything");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal(1, server.Auth.RejectedInvalid);
    }

    [Fact]
    public async Task Custom_accessToken_header_is_accepted_and_echo_shows_the_token_used()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        var (accessToken, _, _) = server.Auth.IssueTokens();
        using var request = new HttpRequestMessage(HttpMethod.Get, "secure/profile");
        request.Headers.TryAddWithoutValidation("accessToken", accessToken);

        using var response = await http.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var echo = await ReadJsonAsync(response);
        Assert.Equal(1, echo.RootElement.GetProperty("tokenGeneration").GetInt32());
        using var payload = JsonDocument.Parse(Base64Url.DecodeFromChars(accessToken.Split('.')[1]));
        Assert.Equal(payload.RootElement.GetProperty("jti").GetString(), echo.RootElement.GetProperty("jti").GetString());
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + ClientTimeout;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met in time");
            await Task.Delay(10);
        }
    }

    /// <summary>Sends <paramref name="request"/>: the answer is 200 and its echo counts it as attempt <paramref name="attempt"/> of its key.</summary>
    private static async Task ExpectEchoOfAttemptAsync(HttpClient http, HttpRequestMessage request, long attempt)
    {
        using var ok = await http.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using var echo = await ReadJsonAsync(ok);
        Assert.Equal(attempt, echo.RootElement.GetProperty("attempt").GetInt64());
    }

    private static HttpClient Client(SandboxServer server) => new() { BaseAddress = server.BaseAddress, Timeout = ClientTimeout };

    private static HttpRequestMessage FaultRequest(string key, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "api/resource");
        request.Headers.Add("X-Sandbox-Key", key);
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private static async Task<HttpResponseMessage> GetSecureAsync(HttpClient http, string accessToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "secure/data");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return await http.SendAsync(request);
    }

    private static StringContent Json<T>(T value) =>
        new(JsonSerializer.Serialize(value), Encoding.UTF8, "application/json");

    private static FormUrlEncodedContent Form(params (string Name, string Value)[] fields) =>
        new(fields.Select(f => KeyValuePair.Create(f.Name, f.Value)));

    private static AuthenticationHeaderValue BasicAuth(string clientId, string clientSecret) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(
            $"{Uri.EscapeDataString(clientId)}:{Uri.EscapeDataString(clientSecret)}")));

    private static async Task<JsonDocument> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync());

    private static async Task<string?> ErrorAsync(HttpResponseMessage response)
    {
        using var body = await ReadJsonAsync(response);
        return body.RootElement.GetProperty("error").GetString();
    }
    [Theory]
    [InlineData("ietf", "RateLimit", "\"default\";r=1;t=1", "\"default\";r=0;t=2")]
    [InlineData("legacy", "RateLimit-Remaining", "1", "0")]
    [InlineData("x", "X-RateLimit-Remaining", "1", "0")]
    public async Task The_limited_endpoint_announces_its_quota_when_asked_on_success_and_on_429(string form, string name, string first, string refused)
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        // A bucket of 2 at 1/s: the first call leaves 1 token; within a few calls one is refused with none left.
        (await http.PostAsync($"_sandbox/limit?rate=1&burst=2&headers={form}", null)).EnsureSuccessStatusCode();

        using var one = await http.GetAsync("limited/1");
        Assert.Equal(HttpStatusCode.OK, one.StatusCode);
        Assert.Equal(first, string.Join(",", one.Headers.NonValidated[name]));
        HttpResponseMessage? throttled = null;
        for (var i = 2; i < 20 && throttled is null; i++)
        {
            var response = await http.GetAsync("limited/" + i);
            if (response.StatusCode == HttpStatusCode.TooManyRequests) throttled = response;
            else response.Dispose();
        }
        using var answer = throttled;
        Assert.NotNull(answer);
        Assert.Equal(refused, string.Join(",", answer.Headers.NonValidated[name]));
        if (form == "x")
        {
            // The reset is a Unix timestamp, within the two seconds the bucket needs to fill.
            var reset = long.Parse(string.Join(",", answer.Headers.NonValidated["X-RateLimit-Reset"]), System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(reset - DateTimeOffset.UtcNow.ToUnixTimeSeconds(), 0, 3);
        }
    }

    [Fact]
    public async Task The_limited_endpoint_sends_no_quota_fields_by_default_and_refuses_an_unknown_form()
    {
        await using var server = await SandboxServer.StartAsync();
        using var http = Client(server);
        (await http.PostAsync("_sandbox/limit?rate=10", null)).EnsureSuccessStatusCode();
        using var response = await http.GetAsync("limited/1");
        Assert.DoesNotContain(response.Headers, h => h.Key.Contains("RateLimit", StringComparison.OrdinalIgnoreCase));

        using var refused = await http.PostAsync("_sandbox/limit?rate=10&headers=draft", null);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("headers", await ErrorAsync(refused));
    }
}
