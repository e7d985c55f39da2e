using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;

namespace Courier.Bench;

/// <summary>
/// The Sandbox server (<c>Courier.Sandbox.dll --port 0</c>) as a child process. It runs out of process on purpose:
/// in-process, Kestrel's allocations and threads would be counted in the client's figures
/// (<see cref="GC.GetTotalAllocatedBytes(bool)"/> is process-wide).
/// </summary>
/// <remarks>
/// The child is killed on <see cref="DisposeAsync"/> (normal end, exception, first Ctrl+C or SIGTERM, which cancel the
/// scenario) and by <see cref="KillAll"/> (second signal, unhandled exception) or <see cref="AppDomain.ProcessExit"/>
/// (<see cref="Environment.Exit"/>). Only a SIGKILL of this process can leave it behind.
/// </remarks>
internal sealed partial class SandboxProcess : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly HashSet<Process> Live = [];

    private readonly Process _process;

    static SandboxProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    private SandboxProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    /// <summary>The server's root, <c>http://127.0.0.1:PORT/</c>.</summary>
    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Starts the server and returns once it has printed its address (it accepts connections by then).</summary>
    public static async Task<SandboxProcess> StartAsync(CancellationToken cancellationToken)
    {
        var dll = await LocateOrBuildAsync(cancellationToken).ConfigureAwait(false);
        var start = new ProcessStartInfo(DotnetHost())
        {
            ArgumentList = { dll, "--port", "0" },
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
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
        lock (Live) Live.Add(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        try
        {
            var baseAddress = await address.Task.WaitAsync(StartTimeout, cancellationToken).ConfigureAwait(false);
            return new SandboxProcess(process, baseAddress);
        }
        catch
        {
            KillAndDispose(process);
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
        KillAndDispose(_process);
        return ValueTask.CompletedTask;
    }

    /// <summary>Kills every sandbox still running: the last resort when this process is about to die.</summary>
    public static void KillAll()
    {
        Process[] live;
        lock (Live) live = [.. Live];
        foreach (var process in live)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
            {
                // Already gone, or being disposed at this very moment.
            }
        }
    }

    private static void KillAndDispose(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit(TimeSpan.FromSeconds(5));
            }
        }
        catch (InvalidOperationException)
        {
            // Never started or already gone.
        }
        // Only now: until the child is dead, KillAll (a second signal arriving meanwhile) must still see it.
        lock (Live) Live.Remove(process);
        process.Dispose();
    }

    /// <summary>
    /// The server dll of the same configuration as this build. <c>dotnet run --project bench</c> builds it through the
    /// project reference; running <c>Courier.Bench.dll</c> directly after a clean may not have, so build it then.
    /// </summary>
    private static async Task<string> LocateOrBuildAsync(CancellationToken cancellationToken)
    {
        var dll = Metadata("SandboxAssembly");
        if (File.Exists(dll)) return dll;

        Console.Error.WriteLine($"{dll} not found: building the sandbox...");
        var build = new ProcessStartInfo(DotnetHost())
        {
            ArgumentList = { "build", Metadata("SandboxProject"), "-c", Metadata("BuildConfiguration"), "--nologo", "-v", "quiet" },
            UseShellExecute = false,
        };
        using var process = Process.Start(build) ?? throw new InvalidOperationException("could not start 'dotnet build'");
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0 || !File.Exists(dll))
            throw new InvalidOperationException($"building the sandbox failed (exit code {process.ExitCode}); {dll} is missing");
        return dll;
    }

    /// <summary>The <c>dotnet</c> host of the runtime this process runs on (…/dotnet/shared/Microsoft.NETCore.App/x.y.z/ → …/dotnet), else the one on PATH.</summary>
    private static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }

    private static string Metadata(string key) =>
        typeof(SandboxProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata '{key}' missing (see Bench.csproj)");

    /// <summary>The line SandboxProgram prints once Kestrel is listening.</summary>
    [GeneratedRegex(@"Sandbox listening on (?<url>http://\S+)")]
    private static partial Regex ListeningLine();
}
