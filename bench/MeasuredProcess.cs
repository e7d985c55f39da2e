using System.Diagnostics;
using System.Globalization;

namespace Courier.Bench;

/// <summary>What one child process run measured.</summary>
/// <param name="Elapsed">Wall time from the start of the process to its exit, as this process saw it (start-up included).</param>
/// <param name="PeakRssBytes">The child's peak resident set size (its high-water mark: the most physical memory it ever held).</param>
/// <param name="UserCpu">The child's user CPU time, or null when it could not be read.</param>
/// <param name="SystemCpu">The child's kernel CPU time, or null when it could not be read.</param>
/// <param name="Stdout">Everything it wrote to stdout.</param>
/// <param name="StderrTail">The last lines it wrote to stderr, for error messages.</param>
internal sealed record ProcessRun(int ExitCode, TimeSpan Elapsed, long PeakRssBytes, TimeSpan? UserCpu, TimeSpan? SystemCpu, string Stdout, string StderrTail)
{
    /// <summary>User + kernel CPU time, or null when it could not be read.</summary>
    public TimeSpan? Cpu => UserCpu + SystemCpu;

    public double PeakRssMiB => PeakRssBytes / (1024.0 * 1024.0);

    /// <summary>Throws unless the process exited with 0, with the end of its stderr in the message.</summary>
    public ProcessRun EnsureSuccess(string what) => ExitCode == 0
        ? this
        : throw new InvalidOperationException($"{what} exited with code {ExitCode}:{Environment.NewLine}{StderrTail}");
}

/// <summary>
/// Runs a child process to its end and measures its wall time and peak memory. The peak is the kernel's own figure:
/// GNU time's <c>%M</c> (<c>ru_maxrss</c> from <c>wait4</c>) when <c>/usr/bin/time</c> is installed, otherwise
/// <c>VmHWM</c> from <c>/proc/PID/status</c> read every 10 ms while the child runs (a high-water mark, so only the
/// last 10 ms can be missed).
/// </summary>
internal static class MeasuredProcess
{
    private const string GnuTime = "/usr/bin/time";
    private const int StderrLines = 30;

    /// <summary>How the peak memory is read on this machine, for the report.</summary>
    public static string PeakMethod => File.Exists(GnuTime)
        ? "peak RSS: GNU time's %M (ru_maxrss of the child)"
        : "peak RSS: VmHWM of /proc/PID/status, sampled every 10 ms";

    /// <summary>Runs <paramref name="fileName"/> to its end; <paramref name="environment"/> is added to (or overrides) the inherited environment.</summary>
    public static async Task<ProcessRun> RunAsync(string fileName, IEnumerable<string> arguments, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var useTime = File.Exists(GnuTime);
        var timeOutput = useTime ? Path.GetTempFileName() : null;
        var start = new ProcessStartInfo(useTime ? GnuTime : fileName)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        if (useTime)
        {
            // %M: maximum resident set size in KiB; %U %S: user and system CPU seconds.
            foreach (var a in new[] { "-f", "%M %U %S", "-o", timeOutput!, "--", fileName }) start.ArgumentList.Add(a);
        }
        foreach (var argument in arguments) start.ArgumentList.Add(argument);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>()) start.Environment[name] = value;

        var process = new Process { StartInfo = start };
        var stderr = new Queue<string>();
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null) return;
            lock (stderr)
            {
                stderr.Enqueue(e.Data);
                if (stderr.Count > StderrLines) stderr.Dequeue();
            }
        };
        var started = Stopwatch.GetTimestamp();
        if (!process.Start()) throw new InvalidOperationException($"could not start {fileName}");
        ChildProcess.Track(process);
        try
        {
            process.BeginErrorReadLine();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            long sampledPeak = 0;
            var exited = process.WaitForExitAsync(cancellationToken);
            while (!useTime && !exited.IsCompleted)
            {
                sampledPeak = Math.Max(sampledPeak, ReadVmHwm(process.Id));
                await Task.WhenAny(exited, Task.Delay(10, cancellationToken)).ConfigureAwait(false);
            }
            await exited.ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started);
            var output = await stdout.ConfigureAwait(false);
            process.WaitForExit(); // the stderr lines too

            var (peak, user, system) = useTime ? ReadTimeOutput(timeOutput!) : (sampledPeak, null, null);
            string tail;
            lock (stderr) tail = string.Join(Environment.NewLine, stderr);
            return new ProcessRun(process.ExitCode, elapsed, peak, user, system, output, tail);
        }
        finally
        {
            ChildProcess.KillAndDispose(process); // a no-op unless cancelled or failed
            if (timeOutput is not null) File.Delete(timeOutput);
        }
    }

    /// <summary>GNU time writes "Command exited with non-zero status N" first when it did; the figures are on the last line.</summary>
    private static (long PeakBytes, TimeSpan? User, TimeSpan? System) ReadTimeOutput(string path)
    {
        var last = File.ReadAllLines(path).LastOrDefault(l => l.Length > 0) ?? "";
        var parts = last.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !long.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var kib))
            throw new InvalidOperationException($"unexpected output of {GnuTime}: '{last}'");
        return (kib * 1024, TimeSpan.FromSeconds(double.Parse(parts[1], CultureInfo.InvariantCulture)),
            TimeSpan.FromSeconds(double.Parse(parts[2], CultureInfo.InvariantCulture)));
    }

    private static long ReadVmHwm(int pid)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal));
            return line is null ? 0 : long.Parse(line[6..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) * 1024;
        }
        catch (IOException)
        {
            return 0; // exited meanwhile
        }
    }
}
