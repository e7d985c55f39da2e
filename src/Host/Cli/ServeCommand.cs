using System.CommandLine;
using Courier.Sandbox;
using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary><c>serve [--port N]</c>: the Sandbox server alone, for trying the other commands by hand.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var port = new Option<int>("--port", "-p") { Description = "Port on 127.0.0.1 (0 picks a free one).", DefaultValueFactory = _ => 0 };
        var command = new Command("serve", "Run the Sandbox reference server on loopback until Ctrl+C.") { port };
        command.SetAction(async (parse, ct) =>
        {
            await using var server = await SandboxServer.StartAsync(new SandboxOptions { Port = parse.GetValue(port) }, ct);
            var (access, refresh, expiresIn) = server.Auth.IssueTokens();
            var url = server.BaseAddress.ToString().TrimEnd('/');
            var console = AnsiConsole.Console;
            console.MarkupLineInterpolated($"Sandbox listening on [bold]{url}/[/]");
            console.MarkupLineInterpolated($"  echo:        {url}/api/anything   (fault headers: X-Fault-Fail-First, X-Fault-Status, X-Fault-Retry-After, X-Fault-Abort-First, X-Fault-Latency-Ms)");
            console.MarkupLineInterpolated($"  protected:   {url}/secure/anything");
            console.MarkupLineInterpolated($"  login:       POST {url}/auth/login {{\"username\":\"{server.Auth.Options.Username}\",\"password\":\"{server.Auth.Options.Password}\"}}");
            console.MarkupLineInterpolated($"  token:       {url}/auth/refresh (json), {url}/oauth/token (oauth2; client {server.Auth.Options.ClientId} / {server.Auth.Options.ClientSecret})");
            console.MarkupLineInterpolated($"  a test login, valid {expiresIn} s:");
            console.WriteLine($"    --access-token {access} --refresh-token {refresh} --refresh-url {url}/auth/refresh");
            console.MarkupLine("Ctrl+C to stop.");
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
            }
            return ExitCodes.Success;
        });
        return command;
    }
}
