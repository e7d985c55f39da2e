using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary>The Spectre.Console consoles the commands write through.</summary>
internal static class Consoles
{
    /// <summary>A console on stderr: progress, retries and errors go there, stdout carries the command's output.</summary>
    public static IAnsiConsole StandardError(bool interactive = true) => Create(Console.Error, interactive);

    /// <summary>A console on stdout (the demo and <c>serve</c> show everything there).</summary>
    public static IAnsiConsole StandardOutput(bool interactive = true) => Create(Console.Out, interactive);

    private static IAnsiConsole Create(TextWriter writer, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(writer) });
        // Spectre wraps redirected output at 80 columns; logs and CI read better with whole lines.
        if (!interactive) console.Profile.Width = 1000;
        return console;
    }
}
