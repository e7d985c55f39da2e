using Microsoft.Extensions.Logging;

namespace Courier.Sandbox;

/// <summary>
/// Settings for a <see cref="SandboxServer"/>. The server always binds to the IPv4 loopback address.
/// </summary>
public sealed class SandboxOptions
{
    /// <summary>TCP port on 127.0.0.1; 0 (the default) lets the OS pick a free ephemeral port.</summary>
    public int Port { get; set; } = 0;

    /// <summary>Behaviour of the built-in OAuth 2.0 authorization server.</summary>
    public SandboxAuthOptions Auth { get; set; } = new();

    /// <summary>
    /// Minimum level written by the console logger. Defaults to <see cref="LogLevel.Warning"/> so that
    /// tests and benchmarks stay quiet; the server never logs per request.
    /// </summary>
    public LogLevel MinimumLogLevel { get; set; } = LogLevel.Warning;
}
