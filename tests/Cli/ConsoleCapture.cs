using System.Text;
using Courier.Host.Cli;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>Runs the CLI in-process with stdout and stderr captured. Console is process-wide: tests that use this share
/// one non-parallel collection.</summary>
[CollectionDefinition(nameof(ConsoleCapture), DisableParallelization = true)]
public sealed class ConsoleCapture
{
    private static readonly SemaphoreSlim Gate = new(1, 1);

    public sealed record Result(int Code, string Output, string Error);

    public static async Task<Result> RunAsync(string[] args, CancellationToken cancellationToken = default)
    {
        await Gate.WaitAsync(CancellationToken.None);
        var (originalOut, originalError) = (Console.Out, Console.Error);
        var output = new StringWriter(new StringBuilder());
        var error = new StringWriter(new StringBuilder());
        try
        {
            Console.SetOut(TextWriter.Synchronized(output));
            Console.SetError(TextWriter.Synchronized(error));
            var code = await CourierCli.RunAsync(args, cancellationToken.CanBeCanceled ? cancellationToken : CancellationToken.None);
            return new Result(code, output.ToString(), error.ToString());
        }
        finally
        {
            Console.SetOut(originalOut);
            Console.SetError(originalError);
            Gate.Release();
        }
    }
}
