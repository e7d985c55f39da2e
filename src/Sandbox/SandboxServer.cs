using Courier.Sandbox.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Sandbox;

/// <summary>
/// A real Kestrel HTTP server on 127.0.0.1 standing in for real APIs and a real OAuth 2.0 authorization server:
/// echo resources with header-driven fault injection (<c>/api/...</c>), protected resources (<c>/secure/...</c>),
/// token endpoints (<c>/auth/login</c>, <c>/auth/refresh</c>, <c>/oauth/token</c>) and test controls (<c>/_sandbox/...</c>).
/// </summary>
/// <example>
/// <code>
/// await using var server = await SandboxServer.StartAsync();
/// using var http = new HttpClient { BaseAddress = server.BaseAddress };
/// var echo = await http.GetStringAsync("api/orders/1");
/// </code>
/// </example>
public sealed class SandboxServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping;
    private int _disposed;

    private SandboxServer(WebApplication app, CancellationTokenSource stopping, int port, SandboxCounters counters, SandboxAuthority auth)
    {
        _app = app;
        _stopping = stopping;
        Port = port;
        BaseAddress = new Uri($"http://127.0.0.1:{port}/");
        Counters = counters;
        Auth = auth;
    }

    /// <summary>The root of the server, <c>http://127.0.0.1:{port}/</c>.</summary>
    public Uri BaseAddress { get; }

    /// <summary>The TCP port actually bound (useful when <see cref="SandboxOptions.Port"/> was 0).</summary>
    public int Port { get; }

    /// <summary>Per-key request counters of the echo resources.</summary>
    public SandboxCounters Counters { get; }

    /// <summary>The authorization server state, counters and test controls.</summary>
    public SandboxAuthority Auth { get; }

    /// <summary>Starts a server and returns once it accepts connections.</summary>
    /// <param name="options">Settings; null for the defaults (ephemeral port, default credentials).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<SandboxServer> StartAsync(SandboxOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new SandboxOptions();
        ArgumentOutOfRangeException.ThrowIfNegative(options.Port);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.Port, 65535);
        ArgumentNullException.ThrowIfNull(options.Auth);

        var counters = new SandboxCounters();
        var authority = new SandboxAuthority(options.Auth.Clone(), TimeProvider.System);
        var stopping = new CancellationTokenSource();
        var app = SandboxApplication.Build(options, counters, authority, stopping.Token);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            return new SandboxServer(app, stopping, BoundPort(app), counters, authority);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            stopping.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Stops the server: hanging and delayed requests are cut at once, other in-flight requests get a few seconds
    /// to finish. Safe to call more than once.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            using var timeout = new CancellationTokenSource(SandboxApplication.ShutdownTimeout);
            await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
            _stopping.Dispose();
        }
    }

    private static int BoundPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses;
        return new Uri(addresses.First()).Port;
    }
}
