using System.Globalization;
using System.Runtime.InteropServices;

namespace Courier.Sandbox;

/// <summary>
/// <c>dotnet run --project src/Sandbox -- [--port N]</c>: runs a sandbox server until Ctrl+C or SIGTERM.
/// Internal so that projects referencing this one (tests, the CLI host) keep their own entry point.
/// </summary>
internal static class SandboxProgram
{
    private static async Task<int> Main(string[] args)
    {
        if (!TryParse(args, out var options, out var error))
        {
            await Console.Error.WriteLineAsync(error).ConfigureAwait(false);
            await Console.Error.WriteLineAsync("usage: Courier.Sandbox [--port N]").ConfigureAwait(false);
            return 2;
        }

        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Stop);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Stop);

        await using var server = await SandboxServer.StartAsync(options).ConfigureAwait(false);
        var auth = server.Auth.Options;
        Console.WriteLine($"Sandbox listening on {server.BaseAddress}");
        Console.WriteLine($"Demo login: {auth.Username} / {auth.Password} (OAuth client {auth.ClientId} / {auth.ClientSecret})");

        try
        {
            await Task.Delay(Timeout.Infinite, stop.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Ctrl+C or SIGTERM: fall through to dispose the server.
        }

        return 0;

        void Stop(PosixSignalContext context)
        {
            context.Cancel = true;
            stop.Cancel();
        }
    }

    private static bool TryParse(string[] args, out SandboxOptions options, out string error)
    {
        options = new SandboxOptions();
        error = string.Empty;
        for (var i = 0; i < args.Length; i++)
        {
            var arg = args[i];
            string? value;
            if (arg.StartsWith("--port=", StringComparison.Ordinal))
            {
                value = arg["--port=".Length..];
            }
            else if (arg is "--port" or "-p")
            {
                value = i + 1 < args.Length ? args[++i] : null;
            }
            else
            {
                error = $"unknown argument '{arg}'";
                return false;
            }

            if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
            {
                error = $"invalid port '{value}'";
                return false;
            }

            options.Port = port;
        }

        return true;
    }
}
