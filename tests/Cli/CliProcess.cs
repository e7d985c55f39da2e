using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Courier.Tests.Cli;

/// <summary>
/// The CLI (Courier.Cli.dll, copied beside the tests by the project reference) run as a child process, as a user runs
/// it: so that it can be killed with SIGKILL mid-run. Every process started is killed by its id in <see cref="DisposeAsync"/>.
/// </summary>
internal sealed class CliProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _error = new();
    private readonly StringBuilder _output = new();

    private CliProcess(Process process) => _process = process;

    public static CliProcess Start(params string[] args)
    {
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Courier.Cli.dll"));
        foreach (var arg in args) info.ArgumentList.Add(arg);
        info.Environment["CI"] = "true"; // plain output
        var process = new Process { StartInfo = info };
        var cli = new CliProcess(process);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (cli._error) cli._error.AppendLine(e.Data); };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (cli._output) cli._output.AppendLine(e.Data); };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return cli;
    }

    public string Error { get { lock (_error) return _error.ToString(); } }

    public string Output { get { lock (_output) return _output.ToString(); } }

    /// <summary>Waits for the exit, at most <paramref name="timeout"/>; returns the exit code.</summary>
    public async Task<int> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        _process.WaitForExit(); // drains the redirected output
        return _process.ExitCode;
    }

    /// <summary>SIGKILL (Process.Kill on Unix): no shutdown code runs in the child.</summary>
    public async Task KillAsync()
    {
        _process.Kill();
        await WaitAsync(TimeSpan.FromSeconds(30));
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync(new CancellationTokenSource(TimeSpan.FromSeconds(10)).Token);
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        _process.Dispose();
    }

    /// <summary>The <c>dotnet</c> host of the runtime the tests run on, else the one on PATH.</summary>
    private static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
