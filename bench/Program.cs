using System.Runtime.InteropServices;
using Courier.Bench.Scenarios;

namespace Courier.Bench;

/// <summary>
/// <c>dotnet run -c Release --project bench -- &lt;scenario&gt; [options]</c>. Each scenario is one verb; adding one
/// means writing an <see cref="IScenario"/> and listing it in <see cref="Scenarios"/>.
/// </summary>
/// <remarks>
/// The report (Markdown) goes to stdout and progress to stderr, so <c>... &gt; report.md</c> captures only the report.
/// </remarks>
internal static class Program
{
    private static readonly IScenario[] Scenarios =
    [
        new HttpScenario(),
        new OverheadScenario(),
        new StormScenario(),
        new ClusterStormScenario(),
        new TransferScenario(),
        new TransferWorker(),
        new BatchScenario(),
        new PlainBatchWorker(),
        new RateLimitScenario(),
        new StartupScenario(),
    ];

    private static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            PrintUsage();
            return args.Length == 0 ? 2 : 0;
        }

        var scenario = Array.Find(Scenarios, s => string.Equals(s.Name, args[0], StringComparison.OrdinalIgnoreCase));
        if (scenario is null)
        {
            Console.Error.WriteLine($"unknown scenario '{args[0]}'");
            PrintUsage();
            return 2;
        }

        // First Ctrl+C / SIGTERM: cancel, so the scenario unwinds through its finally blocks (and stops the server it
        // started). A second one terminates the process at once, after killing the server. Signals are handled
        // explicitly because on SIGTERM the runtime does not raise AppDomain.ProcessExit (measured on .NET 10, Linux).
        using var stop = new CancellationTokenSource();
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
        AppDomain.CurrentDomain.UnhandledException += (_, _) => ChildProcess.KillAll();

        try
        {
            return await scenario.RunAsync(args[1..], stop.Token);
        }
        catch (UsageException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine($"usage: {scenario.Usage}");
            return 2;
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
            Console.Error.WriteLine("Cancelled.");
            return 130;
        }

        void OnSignal(PosixSignalContext context)
        {
            if (stop.IsCancellationRequested)
            {
                ChildProcess.KillAll(); // then the default action: terminate
                return;
            }
            context.Cancel = true;
            Console.Error.WriteLine($"{context.Signal}: cancelling (send it again to abort at once)...");
            stop.Cancel();
        }
    }

    private static void PrintUsage()
    {
        Console.Error.WriteLine("usage: dotnet run -c Release --project bench -- <scenario> [options]");
        Console.Error.WriteLine();
        foreach (var scenario in Scenarios)
        {
            Console.Error.WriteLine($"  {scenario.Usage}");
            Console.Error.WriteLine($"      {scenario.Description}");
        }
    }
}
