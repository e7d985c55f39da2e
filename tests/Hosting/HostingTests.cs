using System.Net;
using Akka.Hosting;
using Courier.Hosting;
using Courier.Requests;
using Courier.Sandbox;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace Courier.Tests.Hosting;

/// <summary>The runtime embedded the way services embed it: Generic Host, Akka.Hosting, IHttpClientFactory, configuration.</summary>
public sealed class HostingTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>
{
    private IHost BuildHost(Dictionary<string, string?> settings, Action<IHttpClientBuilder>? client = null)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder();
        builder.Configuration.AddInMemoryCollection(settings);
        var http = builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName));
        client?.Invoke(http);
        builder.Services.AddAkka("hosting-test", akka => akka.WithHttpRuntime());
        return builder.Build();
    }

    [Fact]
    public async Task Options_bind_from_configuration_and_calls_go_through_the_named_client()
    {
        var key = "host-" + Guid.NewGuid().ToString("N");
        var counting = new CountingHandler();
        using var host = BuildHost(new()
        {
            ["Courier:BaseAddress"] = sandbox.Server.BaseAddress.ToString(),
            ["Courier:MaxConcurrentCalls"] = "8",
            ["Courier:Retry:MaxRetries"] = "4",
            ["Courier:Retry:BaseDelay"] = "00:00:00.010",
        }, http => http.AddHttpMessageHandler(() => counting));
        await host.StartAsync();

        var options = host.Services.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value;
        Assert.Equal(8, options.MaxConcurrentCalls);
        Assert.Equal(4, options.Retry.MaxRetries);

        var client = host.Services.GetRequiredService<IHttpRuntimeClient>();
        var request = new HttpRequestMessage(HttpMethod.Get, "/api/hosted");
        request.Headers.Add(SandboxHeaders.Key, key);
        request.Headers.Add(SandboxHeaders.FailFirst, "4");
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(5, sandbox.Server.Counters.For(key).Requests);
        Assert.Equal(5, counting.Count); // every attempt went through the IHttpClientFactory pipeline
        await host.StopAsync();
    }

    [Fact]
    public async Task The_coordinator_is_in_the_actor_registry_for_actor_callers()
    {
        using var host = BuildHost(new() { ["Courier:BaseAddress"] = sandbox.Server.BaseAddress.ToString() });
        await host.StartAsync();

        var coordinator = await host.Services.GetRequiredService<IRequiredActor<RequestCoordinator>>().GetAsync();
        var result = await coordinator.Ask<CallResult>(new ExecuteCall(HttpCall.Get(sandbox.Url("/api/from-an-actor"))), TimeSpan.FromSeconds(10));

        var ok = Assert.IsType<CallSucceeded>(result);
        ok.Response.Dispose();
        await host.StopAsync();
    }

    [Fact]
    public void Invalid_configuration_is_a_clear_error_naming_the_setting()
    {
        using var host = BuildHost(new() { ["Courier:MaxConcurrentCalls"] = "0" });
        var error = Assert.Throws<OptionsValidationException>(() => host.Services.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value);
        Assert.Contains("MaxConcurrentCalls", error.Message);
    }

    private sealed class CountingHandler : DelegatingHandler
    {
        private int _count;
        public int Count => Volatile.Read(ref _count);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return base.SendAsync(request, cancellationToken);
        }
    }
}

public sealed class OptionsBindingTests
{
    [Fact]
    public void Status_lists_from_configuration_replace_the_defaults()
    {
        var options = BoundOptions.HttpRuntime(new()
        {
            ["Courier:Retry:RetryStatusCodes:0"] = "503",
            ["Courier:Auth:TriggerStatusCodes:0"] = "403",
            ["Courier:Auth:RefreshEndpoint"] = "https://login.example.com/token",
        });

        Assert.Equal([503], options.Retry.RetryStatusCodes!.Order());
        Assert.Equal([403], options.Auth!.TriggerStatusCodes!.Order());
    }

    [Fact]
    public void Per_host_settings_and_automatic_idempotency_keys_bind_from_the_Courier_section_and_a_bad_rate_names_its_key()
    {
        var options = BoundOptions.HttpRuntime(new()
        {
            ["Courier:Hosts:RateLimit"] = "200/s",
            ["Courier:Hosts:AdaptiveConcurrency"] = "true",
            ["Courier:Hosts:CircuitBreakerFailures"] = "5",
            ["Courier:Retry:AddIdempotencyKeys"] = "true",
        });

        Assert.Equal("200/s", options.Hosts.RateLimit);
        Assert.True(options.Hosts.AdaptiveConcurrency);
        Assert.Equal(5, options.Hosts.CircuitBreakerFailures);
        Assert.True(options.Retry.AddIdempotencyKeys);

        options.Hosts.RateLimit = "fast";
        var error = Assert.ThrowsAny<ArgumentException>(options.Validate);
        Assert.Contains("Hosts:RateLimit 'fast'", error.Message);
    }
}
