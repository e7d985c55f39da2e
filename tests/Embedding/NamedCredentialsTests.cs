using System.Net;
using Courier.Auth;
using Courier.Errors;
using Courier.Hosting;
using Courier.Requests;
using Courier.Sandbox;

namespace Courier.Tests.Embedding;

/// <summary>
/// Named credentials (issue 11): two credentials in one runtime, each against its own API and token endpoint (two
/// Sandboxes: each accepts only the tokens it issued), and the raw token for callers that are not HTTP requests.
/// </summary>
public sealed class NamedCredentialsTests
{
    private const int CallsEach = 200;

    /// <summary>billing: the refresh_token grant at Sandbox A; catalog: client credentials at Sandbox B.</summary>
    private static LoopbackRuntime Start(SandboxServer billing, SandboxServer catalog, TokenPair billingPair) =>
        LoopbackRuntime.Start(o =>
        {
            o.MaxConcurrentCalls = 1000;
            o.Credentials["billing"] = new TokenOptions
            {
                RefreshEndpoint = new Uri(billing.BaseAddress, "/auth/refresh"),
                Store = new InMemoryTokenStore(billingPair),
            };
            o.Credentials["catalog"] = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                RefreshEndpoint = new Uri(catalog.BaseAddress, "/oauth/token"),
                ClientId = new SandboxOptions().Auth.ClientId,
                ClientSecret = new SandboxOptions().Auth.ClientSecret,
            };
        });

    private static HttpCall Call(SandboxServer server, string credential, int i) =>
        HttpCall.Get(new Uri(server.BaseAddress, $"/secure/{credential}/{i}")) with { Credential = credential };

    [Fact]
    public async Task Two_credentials_refused_concurrently_refresh_once_each_and_no_token_crosses_to_the_other_api()
    {
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        await using var catalog = await SandboxServer.StartAsync(new SandboxOptions());
        var (access, refresh, _) = billing.Auth.IssueTokens();
        await using var runtime = Start(billing, catalog, new TokenPair(access, refresh, null));
        // Warm: catalog acquires its first token; billing uses the issued one.
        (await runtime.Client.SendAsync(Call(billing, "billing", -1))).Dispose();
        (await runtime.Client.SendAsync(Call(catalog, "catalog", -1))).Dispose();

        billing.Auth.ExpireAccessTokens();
        catalog.Auth.ExpireAccessTokens();
        var calls = Enumerable.Range(0, CallsEach).SelectMany(i => new[] { Call(billing, "billing", i), Call(catalog, "catalog", i) });
        var answers = await Task.WhenAll(calls.Select(c => runtime.Client.SendAsync(c)));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        foreach (var answer in answers) answer.Dispose();
        Assert.Equal(1, billing.Auth.RefreshesPerformed);
        Assert.Equal(0, billing.Auth.ClientCredentialsGrants);
        Assert.Equal(2, catalog.Auth.ClientCredentialsGrants);
        Assert.Equal(0, catalog.Auth.RefreshesPerformed);
        // A token of the other API would be unknown here: refused as invalid, not as expired.
        Assert.Equal(0, billing.Auth.RejectedInvalid);
        Assert.Equal(0, catalog.Auth.RejectedInvalid);
        Assert.InRange(billing.Auth.RejectedExpired, 1, CallsEach);
        Assert.InRange(catalog.Auth.RejectedExpired, 1, CallsEach);
    }

    [Fact]
    public async Task Concurrent_GetAccessTokenAsync_on_an_expired_token_share_one_refresh()
    {
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        await using var catalog = await SandboxServer.StartAsync(new SandboxOptions());
        var (access, refresh, _) = billing.Auth.IssueTokens();
        // Known to have expired: the first ask refreshes, every concurrent one waits for that refresh.
        await using var runtime = Start(billing, catalog, new TokenPair(access, refresh, DateTimeOffset.UtcNow.AddMinutes(-1)));

        var tokens = await Task.WhenAll(Enumerable.Range(0, 100).Select(_ => runtime.Client.GetAccessTokenAsync("billing")));

        Assert.Single(tokens.Distinct());
        Assert.NotEqual(access, tokens[0]);
        Assert.Equal(1, billing.Auth.RefreshesPerformed);
        // The token is good at its API (as gRPC metadata or SignalR's AccessTokenProvider would send it).
        using var plain = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(billing.BaseAddress, "/secure/raw"));
        request.Headers.Authorization = new("Bearer", tokens[0]);
        using var response = await plain.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        // The other credential acquires its own, from its own server.
        var catalogToken = await runtime.Client.GetAccessTokenAsync("CATALOG");
        Assert.NotEqual(tokens[0], catalogToken);
        Assert.Equal(1, catalog.Auth.ClientCredentialsGrants);
    }

    [Fact]
    public async Task Each_credential_has_its_own_trigger_statuses()
    {
        // The catalog API refuses expired tokens with 403; only the catalog credential counts 403 as "token refused".
        var catalogOptions = new SandboxOptions();
        catalogOptions.Auth.ExpiredStatusCode = 403;
        await using var catalog = await SandboxServer.StartAsync(catalogOptions);
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        var (access, refresh, _) = billing.Auth.IssueTokens();
        await using var runtime = LoopbackRuntime.Start(o =>
        {
            o.Credentials["billing"] = new TokenOptions { RefreshEndpoint = new Uri(billing.BaseAddress, "/auth/refresh"), AccessToken = access, RefreshToken = refresh };
            o.Credentials["catalog"] = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                RefreshEndpoint = new Uri(catalog.BaseAddress, "/oauth/token"),
                ClientId = catalogOptions.Auth.ClientId,
                ClientSecret = catalogOptions.Auth.ClientSecret,
                TriggerStatusCodes = [403],
            };
        });
        (await runtime.Client.SendAsync(Call(catalog, "catalog", -1))).Dispose();

        catalog.Auth.ExpireAccessTokens();
        var answers = await Task.WhenAll(Enumerable.Range(0, 50).Select(i => runtime.Client.SendAsync(Call(catalog, "catalog", i))));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        foreach (var answer in answers) answer.Dispose();
        Assert.Equal(2, catalog.Auth.ClientCredentialsGrants);
        Assert.Equal(0, billing.Auth.RefreshesPerformed);
    }

    [Fact]
    public async Task An_unknown_credential_fails_the_call_at_once_naming_it()
    {
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        var (access, refresh, _) = billing.Auth.IssueTokens();
        await using var runtime = Start(billing, billing, new TokenPair(access, refresh, null));

        var error = await Assert.ThrowsAsync<InvalidHttpCallException>(() => runtime.Client.SendAsync(Call(billing, "payroll", 1)));
        Assert.Contains("'payroll'", error.Message);
        var viaOptions = new HttpRequestMessage(HttpMethod.Get, new Uri(billing.BaseAddress, "/secure/x"));
        viaOptions.Options.Set(HttpCallOptions.Credential, "payroll");
        await Assert.ThrowsAsync<InvalidHttpCallException>(() => runtime.Client.SendAsync(viaOptions));
        var raw = await Assert.ThrowsAsync<ArgumentException>(() => runtime.Client.GetAccessTokenAsync("payroll"));
        Assert.Contains("Courier:Credentials:payroll", raw.Message);
        Assert.Equal(0, billing.Auth.RefreshesPerformed + billing.Auth.RejectedInvalid + billing.Auth.RejectedExpired);
    }

    [Fact]
    public async Task A_refused_client_names_its_credential_in_the_error()
    {
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        await using var runtime = LoopbackRuntime.Start(o => o.Credentials["catalog"] = new TokenOptions
        {
            Grant = TokenGrantType.ClientCredentials,
            RefreshEndpoint = new Uri(billing.BaseAddress, "/oauth/token"),
            ClientId = new SandboxOptions().Auth.ClientId,
            ClientSecret = "wrong",
        });

        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(() => runtime.Client.SendAsync(Call(billing, "catalog", 1)));

        Assert.Equal("catalog", error.Credential);
        Assert.Contains("credential 'catalog'", error.Message);
        Assert.Contains("invalid_client", error.Message);
        Assert.DoesNotContain("sign in", error.Message);
        Assert.DoesNotContain("wrong", error.Message);
    }

    [Fact]
    public void Named_credentials_bind_from_configuration_and_bad_ones_are_refused_naming_the_key()
    {
        var options = BoundOptions.HttpRuntime(new()
        {
            ["Courier:Auth:RefreshEndpoint"] = "https://idp.example/auth/refresh",
            ["Courier:Credentials:billing:Grant"] = "ClientCredentials",
            ["Courier:Credentials:billing:RefreshEndpoint"] = "https://billing-idp.example/oauth/token",
            ["Courier:Credentials:billing:ClientId"] = "svc-billing",
            ["Courier:Credentials:billing:Scope"] = "billing.read",
            ["Courier:Credentials:catalog:RefreshEndpoint"] = "https://catalog-idp.example/token",
            ["Courier:Credentials:catalog:Format"] = "OAuth2",
            ["Courier:Credentials:catalog:HeaderName"] = "X-Api-Token",
            ["Courier:Credentials:catalog:Scheme"] = "",
            ["Courier:Credentials:catalog:TriggerStatusCodes:0"] = "403",
        });

        Assert.Equal(new Uri("https://idp.example/auth/refresh"), options.Auth!.RefreshEndpoint);
        Assert.Equal(2, options.Credentials.Count);
        var billing = options.Credentials["Billing"];
        Assert.Equal(TokenGrantType.ClientCredentials, billing.Grant);
        Assert.Equal("svc-billing", billing.ClientId);
        Assert.Equal("billing.read", billing.Scope);
        var catalog = options.Credentials["catalog"];
        Assert.Equal(TokenWireFormat.OAuth2, catalog.Format);
        Assert.Equal("X-Api-Token", catalog.HeaderName);
        Assert.Equal([403], catalog.TriggerStatusCodes!);

        options.Credentials["billing"].ClientId = null;
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("Courier:Credentials:billing:ClientId", error.Message);
        options.Credentials.Remove("billing");
        options.Credentials["bad name"] = new TokenOptions();
        Assert.Contains("Courier:Credentials:bad name", Assert.Throws<ArgumentException>(options.Validate).Message);
    }
}
