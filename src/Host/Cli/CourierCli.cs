using System.CommandLine;
using Courier.Host.Batch;
using Courier.Host.Demo;
using Courier.Host.Transfers;
using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary>The command tree and its error handling; <see cref="Program"/> runs it, tests run it in-process.</summary>
internal static class CourierCli
{
    public static RootCommand Build()
    {
        var shared = new SharedOptions();
        var root = new RootCommand("Courier: an actor-based HTTP client runtime (retries on timers, one token refresh at a time, resumable transfers).");
        shared.AddTo(root);
        root.Subcommands.Add(DemoCommand.Create(shared));
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(RequestCommand.Create(shared));
        root.Subcommands.Add(BatchCommand.Create(shared));
        root.Subcommands.Add(UploadCommand.Create(shared));
        root.Subcommands.Add(DownloadCommand.Create(shared));
        root.SetAction((parse, ct) => DemoCommand.RunAsync(parse, shared, ct));
        return root;
    }

    /// <summary>Runs the command line; returns the exit code. <paramref name="cancellationToken"/> acts like Ctrl+C.</summary>
    public static async Task<int> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var error in parse.Errors) Console.Error.WriteLine(error.Message);
            Console.Error.WriteLine("Run with --help for usage.");
            return ExitCodes.Usage;
        }

        var verbose = args.Contains("--verbose") || args.Contains("-v");
        try
        {
            var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false };
            // Ctrl+C (SIGINT) cancels the token the actions get; in-process callers pass their own.
            if (cancellationToken.CanBeCanceled)
            {
                configuration.ProcessTerminationTimeout = null;
                return await parse.InvokeAsync(configuration, cancellationToken);
            }
            return await parse.InvokeAsync(configuration);
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
            Consoles.StandardError().WriteException(ex);
            return ExitCodes.SomeFailed;
        }
    }
}
