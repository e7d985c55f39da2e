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

    /// <param name="args">The command line.</param>
    /// <param name="cancellationToken">Acts like Ctrl+C.</param>
    /// <param name="errorWritten">Called after each write to stderr with everything written so far (under the writer's lock:
    /// keep it short, e.g. complete a task the test awaits).</param>
    public static async Task<Result> RunAsync(string[] args, CancellationToken cancellationToken = default, Action<string>? errorWritten = null)
    {
        await Gate.WaitAsync(CancellationToken.None);
        var (originalOut, originalError) = (Console.Out, Console.Error);
        var output = new StringWriter(new StringBuilder());
        var error = new WatchedWriter(errorWritten);
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

    /// <summary>A <see cref="StringWriter"/> that reports what it holds after every write.</summary>
    private sealed class WatchedWriter(Action<string>? written) : StringWriter(new StringBuilder())
    {
        public override void Write(char value)
        {
            base.Write(value);
            written?.Invoke(ToString());
        }

        public override void Write(char[] buffer, int index, int count)
        {
            base.Write(buffer, index, count);
            written?.Invoke(ToString());
        }

        public override void Write(ReadOnlySpan<char> buffer)
        {
            base.Write(buffer);
            written?.Invoke(ToString());
        }

        public override void Write(string? value)
        {
            base.Write(value);
            written?.Invoke(ToString());
        }
    }
}
