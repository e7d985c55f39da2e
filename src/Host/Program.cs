using System.CommandLine;
using Courier.Host.Cli;
using Courier.Host.Demo;
using Spectre.Console;

namespace Courier.Host;

/// <summary>
/// <c>courier</c>: the runtime as a command-line tool. With no command it runs the demo against the in-process Sandbox.
/// </summary>
internal static class Program
{
    public static async Task<int> Main(string[] args)
    {
        var shared = new SharedOptions();
        var root = new RootCommand("Courier: an actor-based HTTP client runtime (retries on timers, one token refresh at a time, resumable transfers).");
        shared.AddTo(root);
        root.Subcommands.Add(DemoCommand.Create(shared));
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(RequestCommand.Create(shared));
        root.SetAction((parse, ct) => DemoCommand.RunAsync(parse, shared, ct));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine("Run with --help for usage.");
            return ExitCodes.Usage;
        }

        var verbose = parse.GetValue(shared.Verbose);
        try
        {
            return await parse.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine(ex.Message);
            return ExitCodes.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("Cancelled.");
            return ExitCodes.Cancelled;
        }
        catch (Exception ex) when (!verbose)
        {
            Console.Error.WriteLine($"{ex.GetType().Name}: {ex.Message} (run with --verbose for details)");
            return ExitCodes.SomeFailed;
        }
        catch (Exception ex)
        {
            AnsiConsole.WriteException(ex);
            return ExitCodes.SomeFailed;
        }
    }
}
