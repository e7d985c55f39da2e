using System.Diagnostics;
using System.Text.RegularExpressions;

namespace Courier.Bench;

/// <summary>
/// The Sandbox server (<c>Courier.Sandbox.dll --port 0</c>) as a child process. It runs out of process on purpose:
/// in-process, Kestrel's allocations and threads would be counted in the client's figures
/// (<see cref="GC.GetTotalAllocatedBytes(bool)"/> is process-wide).
/// </summary>
/// <remarks>
/// The child is killed on <see cref="DisposeAsync"/> (normal end, exception, first Ctrl+C or SIGTERM, which cancel the
/// scenario) and by <see cref="ChildProcess.KillAll"/> (second signal, unhandled exception, <see cref="AppDomain.ProcessExit"/>).
/// Only a SIGKILL of this process can leave it behind.
/// </remarks>
internal sealed partial class SandboxProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly Process _process;

    private SandboxProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>The server's root, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the server and returns once it has printed its address (it accepts connections by then).</summary>
    /// <param name="tempFolder">The server's temporary folder (<c>TMPDIR</c>), where its file store keeps every file put
    /// or uploaded; null for the system's. A killed server cannot delete its store, so scenarios that move gigabytes give
    /// it a folder they delete themselves.</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    public static async Task<SandboxProcess> StartAsync(CancellationToken cancellationToken, string? tempFolder = null)
    {
        var dll = await ChildProcess.LocateOrBuildAsync("Sandbox", cancellationToken).ConfigureAwait(false);
        var start = new ProcessStartInfo(ChildProcess.DotnetHost())
        {
            ArgumentList = { dll, "--port", "0" },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (tempFolder is not null) start.Environment["TMPDIR"] = tempFolder;
        // The server's own GC and tiering settings are its defaults; nothing from this process leaks into it
        // except the environment, which we leave as is.
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var address = new TaskCompletionSource<Uri>(TaskCreationOptions.RunContinuationsAsynchronously);
        var output = new Queue<string>(); // the last lines, for the error message if it does not start

        // Both pipes are drained for the whole run: a full pipe would block the server's console logger.
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) => address.TrySetException(new InvalidOperationException(
            $"the sandbox exited with code {process.ExitCode} before listening:{Environment.NewLine}{string.Join(Environment.NewLine, Tail())}"));

        if (!process.Start()) throw new InvalidOperationException("could not start the sandbox process");
        ChildProcess.Track(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var baseAddress = await address.Task.WaitAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
            return new SandboxProcess(process, baseAddress);
        }
        catch
        {
            ChildProcess.KillAndDispose(process);
            throw;
        }

        void OnLine(string? line)
        {
            if (line is null) return;
            lock (output)
            {
                output.Enqueue(line);
                if (output.Count > 20) output.Dequeue();
            }
            if (ListeningLine().Match(line) is { Success: true } match) address.TrySetResult(new Uri(match.Groups["url"].Value));
        }

        string[] Tail()
        {
            lock (output) return [.. output];
        }
    }

    public ValueTask DisposeAsync()
    {
        ChildProcess.KillAndDispose(_process);
        return ValueTask.CompletedTask;
    }

    /// <summary>The line SandboxProgram prints once Kestrel is listening.</summary>
    [GeneratedRegex(@"Sandbox listening on (?<url>http://\S+)")]
    private static partial Regex ListeningLine();
}
