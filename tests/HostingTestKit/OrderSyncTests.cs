using System.Net.Http.Json;
using Akka.Hosting;
using Courier.Auth;
using Courier.Hosting;
using Courier.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Xunit;

namespace Courier.HostingTestKit.Tests;

/// <summary>A typed client as a service writes it.</summary>
public sealed class OrdersClient(HttpClient http)
{
    public async Task<int> CountAsync(CancellationToken cancellationToken) =>
        (await http.GetFromJsonAsync<int[]>("/orders", cancellationToken))!.Length;
}

/// <summary>The hosted service under test: fetches the orders once at start.</summary>
public sealed class OrderSync(OrdersClient orders) : BackgroundService
{
    public TaskCompletionSource<int> Fetched { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            Fetched.TrySetResult(await orders.CountAsync(stoppingToken));
        }
        catch (Exception ex)
        {
            Fetched.TrySetException(ex);
        }
    }
}

/// <summary>The README's example: a hosted service tested with Akka.Hosting.TestKit and Courier.Testing.</summary>
public sealed class OrderSyncTests(ITestOutputHelper output) : Akka.Hosting.TestKit.TestKit(output: output)
{
    private readonly FakeAuthorizationServer _auth = new();
    private readonly FakeApi _api = new() { Default = (_, _) => Task.FromResult(FakeApi.Json("[1,2,3]")) };

    protected override void ConfigureServices(HostBuilderContext context, IServiceCollection services)
    {
        _api.RequireTokensOf = _auth;
        var (access, refresh) = _auth.IssueTokens();
        _auth.ExpireAccessTokens(); // the service starts with an expired token: the runtime refreshes it once
        services.AddHttpRuntime(configure: o => o.Auth = new TokenOptions
        {
            RefreshEndpoint = FakeAuthorizationServer.JsonRefreshEndpoint, AccessToken = access, RefreshToken = refresh,
        }).ConfigurePrimaryHttpMessageHandler(() => _api);
        services.AddHttpClient(HttpRuntime.TokenHttpClientName).ConfigurePrimaryHttpMessageHandler(() => _auth);
        services.AddHttpClient<OrdersClient>(c => c.BaseAddress = new("https://api.fake.test/")).AddCourier();
        services.AddSingleton<OrderSync>();
        services.AddHostedService(sp => sp.GetRequiredService<OrderSync>());
    }

    protected override void ConfigureAkka(AkkaConfigurationBuilder builder, IServiceProvider provider) => builder.WithHttpRuntime();

    [Fact]
    public async Task The_sync_fetches_orders_through_the_runtime_with_one_refresh()
    {
        var sync = Host.Services.GetRequiredService<OrderSync>();

        Assert.Equal(3, await sync.Fetched.Task.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken));
        Assert.Equal(1, _auth.Refreshes);
        Assert.StartsWith("Bearer ", _api.Received[^1].Headers["Authorization"]);
    }
}
