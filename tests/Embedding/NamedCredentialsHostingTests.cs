using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Akka.Hosting;
using Courier.Auth;
using Courier.Hosting;
using Courier.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Courier.Tests.Embedding;

/// <summary>Named credentials in a host: clients name theirs with AddCourier, the facade hands out their raw tokens.</summary>
public sealed class NamedCredentialsHostingTests
{
    [Fact]
    public async Task Clients_naming_their_credential_refresh_once_each_through_their_own_token_clients()
    {
        await using var billing = await SandboxServer.StartAsync(new SandboxOptions());
        await using var catalog = await SandboxServer.StartAsync(new SandboxOptions());
        var (access, refresh, _) = billing.Auth.IssueTokens();
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddHttpRuntime(configure: o =>
        {
            o.MaxConcurrentCalls = 512;
            o.Credentials["billing"] = new TokenOptions { RefreshEndpoint = new Uri(billing.BaseAddress, "/auth/refresh"), AccessToken = access, RefreshToken = refresh };
            o.Credentials["catalog"] = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                RefreshEndpoint = new Uri(catalog.BaseAddress, "/oauth/token"),
                ClientId = new SandboxOptions().Auth.ClientId,
                ClientSecret = new SandboxOptions().Auth.ClientSecret,
            };
        });
        builder.Services.AddHttpClient("billing", c => c.BaseAddress = billing.BaseAddress).AddCourier(o => o.Credential = "billing");
        builder.Services.AddHttpClient("catalog", c => c.BaseAddress = catalog.BaseAddress).AddCourier(o => o.Credential = "catalog");
        builder.Services.AddAkka("named-" + Guid.NewGuid().ToString("N")[..8], akka => akka.WithHttpRuntime());
        using var host = builder.Build();
        await host.StartAsync();
        var factory = host.Services.GetRequiredService<IHttpClientFactory>();
        var billingClient = factory.CreateClient("billing");
        var catalogClient = factory.CreateClient("catalog");
        await billingClient.GetFromJsonAsync<JsonElement>("/secure/warm");
        await catalogClient.GetFromJsonAsync<JsonElement>("/secure/warm");

        billing.Auth.ExpireAccessTokens();
        catalog.Auth.ExpireAccessTokens();
        var answers = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => (i % 2 == 0 ? billingClient : catalogClient).GetAsync($"/secure/{i}")));

        Assert.All(answers, a => Assert.Equal(HttpStatusCode.OK, a.StatusCode));
        foreach (var answer in answers) answer.Dispose();
        Assert.Equal(1, billing.Auth.RefreshesPerformed);
        Assert.Equal(2, catalog.Auth.ClientCredentialsGrants);
        Assert.Equal(0, billing.Auth.RejectedInvalid + catalog.Auth.RejectedInvalid);
        // Each credential's token requests have a client of their own, set up like Courier.Auth (no handler rotation).
        var clientOptions = host.Services.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>();
        Assert.Equal(Timeout.InfiniteTimeSpan, clientOptions.Get(HttpRuntime.TokenHttpClientNameFor("catalog")).HandlerLifetime);

        // The raw token of a named credential, through the hosted facade: the one the calls now use.
        var runtime = host.Services.GetRequiredService<IHttpRuntimeClient>();
        var token = await runtime.GetAccessTokenAsync("catalog");
        using var plain = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(catalog.BaseAddress, "/secure/raw"));
        request.Headers.Authorization = new("Bearer", token);
        using var response = await plain.SendAsync(request);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, catalog.Auth.ClientCredentialsGrants);
        await host.StopAsync();
    }
    [Fact]
    public async Task A_call_with_a_relative_url_keeps_its_named_credential()
    {
        // The facade resolves a relative URL against Courier:BaseAddress with a copy of the call (with { Uri = ... }): the
        // copy must still carry the credential, or the call goes out with another credential's token, or none.
        await using var catalog = await SandboxServer.StartAsync(new SandboxOptions());
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Services.AddHttpRuntime(configure: o =>
        {
            o.BaseAddress = catalog.BaseAddress;
            o.Credentials["catalog"] = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                RefreshEndpoint = new Uri(catalog.BaseAddress, "/oauth/token"),
                ClientId = new SandboxOptions().Auth.ClientId,
                ClientSecret = new SandboxOptions().Auth.ClientSecret,
            };
        });
        builder.Services.AddAkka("relative-" + Guid.NewGuid().ToString("N")[..8], akka => akka.WithHttpRuntime());
        using var host = builder.Build();
        await host.StartAsync();
        var runtime = host.Services.GetRequiredService<IHttpRuntimeClient>();

        using var response = await runtime.SendAsync(Courier.Requests.HttpCall.Get(new Uri("/secure/relative", UriKind.Relative)) with { Credential = "catalog" });

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, catalog.Auth.ClientCredentialsGrants);
        await host.StopAsync();
    }
}
