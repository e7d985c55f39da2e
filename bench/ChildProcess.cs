using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;

namespace Courier.Bench;

/// <summary>
/// What every child process of the bench shares: the <c>dotnet</c> host to start assemblies with, the assemblies built
/// beside the bench (located through the assembly metadata Bench.csproj writes, built on demand), and the list of
/// children still running, which are killed when this process is about to die.
/// </summary>
internal static class ChildProcess
{
    private static readonly HashSet<Process> Live = [];

    static ChildProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    /// <summary>Remembers <paramref name="process"/> for <see cref="KillAll"/>; call right after it started.</summary>
    public static void Track(Process process)
    {
        lock (Live) Live.Add(process);
    }

    /// <summary>Kills <paramref name="process"/> (and its children) if it still runs, forgets it and disposes it.</summary>
    public static void KillAndDispose(Process process)
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

    /// <summary>Kills every child still running: the last resort when this process is about to die.</summary>
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

    /// <summary>The <c>dotnet</c> host of the runtime this process runs on (…/dotnet/shared/Microsoft.NETCore.App/x.y.z/ → …/dotnet), else the one on PATH.</summary>
    public static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }

    /// <summary>This bench's own dll, for the helper verbs that run in a child process (<c>transfer-worker</c>, <c>batch-plain</c>).</summary>
    public static string BenchAssembly => typeof(ChildProcess).Assembly.Location;

    /// <summary>
    /// The dll of a project built beside the bench in the same configuration (metadata <c>{name}Assembly</c> and
    /// <c>{name}Project</c> in Bench.csproj). <c>dotnet run --project bench</c> builds it through the project reference;
    /// running <c>Courier.Bench.dll</c> directly after a clean may not have, so build it then.
    /// </summary>
    public static async Task<string> LocateOrBuildAsync(string name, CancellationToken cancellationToken)
    {
        var dll = Metadata(name + "Assembly");
        if (File.Exists(dll)) return dll;

        Console.Error.WriteLine($"{dll} not found: building {name}...");
        var build = new ProcessStartInfo(DotnetHost())
        {
            ArgumentList = { "build", Metadata(name + "Project"), "-c", Metadata("BuildConfiguration"), "--nologo", "-v", "quiet" },
            UseShellExecute = false,
        };
        using var process = Process.Start(build) ?? throw new InvalidOperationException("could not start 'dotnet build'");
        await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (process.ExitCode != 0 || !File.Exists(dll))
            throw new InvalidOperationException($"building {name} failed (exit code {process.ExitCode}); {dll} is missing");
        return dll;
    }

    private static string Metadata(string key) =>
        typeof(ChildProcess).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == key)?.Value
        ?? throw new InvalidOperationException($"assembly metadata '{key}' missing (see Bench.csproj)");
}
