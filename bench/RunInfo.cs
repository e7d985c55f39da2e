using System.Runtime;
using System.Runtime.InteropServices;

namespace Courier.Bench;

/// <summary>The context a result needs to be read: machine, runtime, date, and the command that reproduces it.</summary>
internal static class RunInfo
{
    /// <summary>One line: cores, CPU, OS, .NET version, GC mode, UTC date.</summary>
    public static string Machine()
    {
        var gc = GCSettings.IsServerGC ? "server GC" : "workstation GC";
        if (GCSettings.LatencyMode != GCLatencyMode.Batch) gc += " (concurrent)";
        var cpu = CpuModel() is { } model ? $" ({model})" : "";
        return $"{Environment.ProcessorCount} cores{cpu}, {RuntimeInformation.OSDescription} {RuntimeInformation.OSArchitecture}, " +
               $"{RuntimeInformation.FrameworkDescription}, {gc}, {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
    }

    /// <summary>The head of every report: the machine line and the command, each followed by a blank line.</summary>
    public static void PrintHeader(string command)
    {
        Console.WriteLine($"Machine: {Machine()}");
        Console.WriteLine();
        Console.WriteLine($"Command: `{command}`");
        Console.WriteLine();
    }

    /// <summary>The command line that reproduces this run, with every option spelled out (defaults included).</summary>
    public static string Command(string scenario, params (string Name, string Value)[] options) =>
        $"dotnet run -c Release --project bench -- {scenario}" + string.Concat(options.Select(o => $" --{o.Name} {o.Value}"));

    private static string? CpuModel()
    {
        try
        {
            // Linux only; elsewhere the core count has to do.
            return File.Exists("/proc/cpuinfo")
                ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
                : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
