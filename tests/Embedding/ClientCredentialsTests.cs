using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;
using Courier.Sandbox;

namespace Courier.Tests.Embedding;

/// <summary>The client credentials grant (RFC 6749 §4.4) against the Sandbox's authorization server.</summary>
public sealed class ClientCredentialsTests
{
    private static async Task<(SandboxServer, LoopbackRuntime)> StartAsync(Action<TokenOptions>? auth = null)
    {
        var sandboxOptions = new SandboxOptions();
        var server = await SandboxServer.StartAsync(sandboxOptions);
        var runtime = LoopbackRuntime.Start(o =>
        {
            o.Auth = new TokenOptions
            {
                Grant = TokenGrantType.ClientCredentials,
                RefreshEndpoint = new Uri(server.BaseAddress, "/oauth/token"),
                ClientId = sandboxOptions.Auth.ClientId,
                ClientSecret = sandboxOptions.Auth.ClientSecret,
                Scope = "orders.read orders.write",
                Resources = ["https://orders.example/"],
                Audience = "orders",
            };
            auth?.Invoke(o.Auth);
        });
        return (server, runtime);
    }

    [Fact]
    public async Task Concurrent_first_calls_get_one_token_for_the_client_with_its_scope_and_resource()
    {
        var (server, runtime) = await StartAsync();
        await using var _ = server;
        await using var __ = runtime;

        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => runtime.Client.GetJsonAsync<JsonElement>(new Uri(server.BaseAddress, $"/secure/cc/{i}").ToString())));

        Assert.All(answers, a => Assert.Equal("client:" + new SandboxOptions().Auth.ClientId, a.GetProperty("subject").GetString()));
        Assert.Equal(1, server.Auth.ClientCredentialsGrants);
        Assert.Equal(0, server.Auth.RefreshesPerformed);
        var (scope, resources, audience) = server.Auth.LastClientCredentialsRequest;
        Assert.Equal("orders.read orders.write", scope);
        Assert.Equal(["https://orders.example/"], resources);
        Assert.Equal("orders", audience);
    }

    [Fact]
    public async Task A_refused_token_is_replaced_by_one_new_grant_under_concurrent_calls()
    {
        var (server, runtime) = await StartAsync();
        await using var _ = server;
        await using var __ = runtime;
        await runtime.Client.GetJsonAsync<JsonElement>(new Uri(server.BaseAddress, "/secure/cc/warm").ToString());

        server.Auth.ExpireAccessTokens();
        var answers = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => runtime.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, $"/secure/cc/{i}")))));

        Assert.All(answers, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(2, server.Auth.ClientCredentialsGrants);
        foreach (var answer in answers) answer.Dispose();
    }

    [Fact]
    public async Task A_wrong_client_secret_fails_the_calls_with_an_authentication_error_naming_invalid_client()
    {
        var (server, runtime) = await StartAsync(auth => auth.ClientSecret = "wrong");
        await using var _ = server;
        await using var __ = runtime;

        var error = await Assert.ThrowsAsync<AuthenticationFailedException>(() => runtime.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, "/secure/cc"))));

        Assert.True(error.Message.Contains("invalid_client"), error.Message);
        Assert.DoesNotContain("wrong", error.Message);
        Assert.Equal(0, server.Auth.ClientCredentialsGrants);
    }

    [Fact]
    public async Task The_client_id_and_secret_may_go_in_the_body_instead_of_basic_authentication()
    {
        var (server, runtime) = await StartAsync(auth => auth.ClientAuthentication = ClientAuthentication.Body);
        await using var _ = server;
        await using var __ = runtime;

        using var response = await runtime.Client.SendAsync(HttpCall.Get(new Uri(server.BaseAddress, "/secure/cc")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, server.Auth.ClientCredentialsGrants);
    }

    [Fact]
    public void Options_without_a_client_id_are_refused_naming_the_key()
    {
        var options = new TokenOptions { Grant = TokenGrantType.ClientCredentials, RefreshEndpoint = new Uri("https://idp.example/token") };
        var error = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains("Courier:Auth:ClientId", error.Message);
    }
}
