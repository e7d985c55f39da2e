using Courier.Host.Cli;

namespace Courier.Host;

/// <summary>
/// <c>Courier.Cli</c>: the runtime as a command-line tool. With no command it runs the demo against the in-process Sandbox.
/// </summary>
internal static class Program
{
    public static Task<int> Main(string[] args)
    {
        ProcessTuning.ForCommand(args); // before the first socket: the runtime reads these once
        return CourierCli.RunAsync(args);
    }
}
