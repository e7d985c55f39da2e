using System.Net;
using Courier.Sandbox.Auth;
using Courier.Sandbox.Control;
using Courier.Sandbox.Echo;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Courier.Sandbox.Hosting;

/// <summary>Builds the Kestrel application of a <see cref="SandboxServer"/> and maps its endpoints.</summary>
internal static class SandboxApplication
{
    /// <summary>How long stopping waits for in-flight requests before connections are cut.</summary>
    public static readonly TimeSpan ShutdownTimeout = TimeSpan.FromSeconds(5);

    public static WebApplication Build(SandboxOptions options, SandboxCounters counters, SandboxAuthority authority, CancellationToken serverStopping)
    {
        // The empty builder reads no appsettings.json and no ASPNETCORE_/DOTNET_ environment variables, so the
        // sandbox behaves the same whatever process embeds it (tests, the CLI host, benchmarks).
        var builder = WebApplication.CreateEmptyBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(SandboxServer).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });

        builder.WebHost.UseKestrelCore().ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Listen(IPAddress.Loopback, options.Port);
        });
        builder.Services.AddRoutingCore();
        builder.Services.AddSingleton<IHostLifetime, SandboxHostLifetime>();
        builder.Services.Configure<HostOptions>(host => host.ShutdownTimeout = ShutdownTimeout);
        builder.Logging
            .SetMinimumLevel(options.MinimumLogLevel)
            .AddSimpleConsole(console => console.SingleLine = true);

        var app = builder.Build();
        MapEndpoints(app, counters, authority, serverStopping);
        return app;
    }

    private static void MapEndpoints(WebApplication app, SandboxCounters counters, SandboxAuthority authority, CancellationToken serverStopping)
    {
        var echo = new EchoEndpoints(counters, authority, serverStopping);
        app.Map("/api/{**path}", (RequestDelegate)echo.HandleOpenAsync);
        app.Map("/secure/{**path}", (RequestDelegate)echo.HandleSecureAsync);

        var auth = new AuthEndpoints(authority, serverStopping);
        app.MapPost("/auth/login", (RequestDelegate)auth.LoginAsync);
        app.MapPost("/auth/refresh", (RequestDelegate)auth.RefreshAsync);
        app.MapPost("/oauth/token", (RequestDelegate)auth.TokenAsync);

        var control = new ControlEndpoints(counters, authority);
        app.MapGet("/_sandbox/health", (RequestDelegate)control.HealthAsync);
        app.MapGet("/_sandbox/counters/{key}", (RequestDelegate)control.CountersAsync);
        app.MapPost("/_sandbox/reset", (RequestDelegate)control.ResetAsync);
        app.MapGet("/_sandbox/auth/stats", (RequestDelegate)control.AuthStatsAsync);
        app.MapPost("/_sandbox/auth/expire", (RequestDelegate)control.ExpireAsync);
        app.MapPost("/_sandbox/auth/revoke", (RequestDelegate)control.RevokeAsync);
        app.MapPost("/_sandbox/auth/reset", (RequestDelegate)control.ResetAuthCountersAsync);
        app.MapPost("/_sandbox/auth/fail-refreshes", (RequestDelegate)control.FailRefreshesAsync);
        app.MapPost("/_sandbox/auth/refresh-latency", (RequestDelegate)control.RefreshLatencyAsync);
        app.MapPost("/_sandbox/auth/issue", (RequestDelegate)control.IssueAsync);

        Files.FileEndpoints.Map(app, authority);

        var limited = new Limits.RateLimitedEndpoints();
        app.Lifetime.ApplicationStopped.Register(limited.Dispose);
        app.Map("/limited/{**path}", (RequestDelegate)limited.HandleAsync);
        app.MapPost("/_sandbox/limit", (RequestDelegate)limited.ConfigureAsync);
        app.MapGet("/_sandbox/limit", (RequestDelegate)limited.StatsAsync);
    }
}
