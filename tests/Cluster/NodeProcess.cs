using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Threading.Channels;

namespace Courier.Tests.Cluster;

/// <summary>
/// One cluster node in its own process (<c>Courier.ClusterNode.dll</c>, built beside the tests), driven over its
/// standard input and read line by line from its standard output. Killed by its id on dispose, whatever happened.
/// The cluster-storm benchmark compiles this file in too (bench/Bench.csproj), for its failover row.
/// </summary>
public sealed class NodeProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>();
    private readonly List<string> _log = [];
    private long _ok;
    private long _failed;
    private long _generation;

    private NodeProcess(Process process, int index)
    {
        _process = process;
        Index = index;
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null) lock (_log) _log.Add("stderr: " + e.Data);
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    /// <summary>The node's process id.</summary>
    public int ProcessId => _process.Id;

    /// <summary>The node's position in start order.</summary>
    public int Index { get; }

    /// <summary>The node's cluster address (after <see cref="StartAsync"/>).</summary>
    public string Address { get; private set; } = "";

    /// <summary>The successful calls the node reported last.</summary>
    public long ReportedSuccesses => Interlocked.Read(ref _ok);

    /// <summary>The newest refreshed generation the node reported adopting (0 before any).</summary>
    public long Generation => Interlocked.Read(ref _generation);

    /// <summary>Everything the node printed, for assertion messages.</summary>
    public string Log
    {
        get
        {
            lock (_log) return string.Join(Environment.NewLine, _log.Where(l => !l.StartsWith("progress ", StringComparison.Ordinal)).TakeLast(80));
        }
    }

    /// <summary>Starts a node that joins through <paramref name="seed"/> (<c>self</c> forms the cluster) and waits until it prints its address.</summary>
    public static Task<NodeProcess> StartAsync(int index, Uri sandbox, string access, string refresh, string seed, CancellationToken cancellationToken,
        string stableAfter = "5s", int refreshTimeoutSeconds = 30) =>
        StartAsync(index, sandbox, access, refresh, ["--seed", seed], cancellationToken, stableAfter, refreshTimeoutSeconds);

    /// <summary>
    /// Starts a node that joins through Akka.Management's Cluster Bootstrap with config discovery: its management endpoint
    /// on 127.0.0.1:<paramref name="managementPort"/>, the fleet's endpoints in <paramref name="contactPoints"/>, no seed node.
    /// </summary>
    public static Task<NodeProcess> StartWithBootstrapAsync(int index, Uri sandbox, string access, string refresh, IReadOnlyList<string> contactPoints,
        int managementPort, CancellationToken cancellationToken) =>
        StartAsync(index, sandbox, access, refresh,
            ["--bootstrap", string.Join(',', contactPoints), "--management-port", managementPort.ToString(CultureInfo.InvariantCulture)], cancellationToken);

    /// <summary>The node program's dll: beside this assembly (the tests), unless set (the benchmark sets the one it built).</summary>
    public static string NodeAssembly { get; set; } = Path.Combine(AppContext.BaseDirectory, "Courier.ClusterNode.dll");

    private static async Task<NodeProcess> StartAsync(int index, Uri sandbox, string access, string refresh, string[] join, CancellationToken cancellationToken,
        string stableAfter = "5s", int refreshTimeoutSeconds = 30)
    {
        var dll = NodeAssembly;
        var start = new ProcessStartInfo(DotnetHost())
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in (string[])[dll, "--sandbox", sandbox.ToString(), "--access", access, "--refresh", refresh, .. join,
                     "--stable-after", stableAfter, "--refresh-timeout", refreshTimeoutSeconds.ToString(CultureInfo.InvariantCulture)])
            start.ArgumentList.Add(argument);
        // Membership changes, hand-over and refreshes at INFO: a failure's message shows how the fleet got there.
        start.Environment["COURIER_NODE_LOGLEVEL"] = Environment.GetEnvironmentVariable("COURIER_NODE_LOGLEVEL") ?? "INFO";
        var process = Process.Start(start) ?? throw new InvalidOperationException("could not start the node process");
        var node = new NodeProcess(process, index);
        try
        {
            node.Address = (await node.ExpectAsync("address", cancellationToken)).Trim();
            return node;
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>Waits until the node serves a token (it is Up and has the shared pair).</summary>
    public Task ReadyAsync(CancellationToken cancellationToken) => ExpectAsync("ready", cancellationToken);

    /// <summary>The Up members the node sees, sorted by address.</summary>
    public async Task<IReadOnlyList<string>> MembersAsync(CancellationToken cancellationToken)
    {
        await _process.StandardInput.WriteLineAsync("members");
        return (await ExpectAsync("members", cancellationToken)).Split(',', StringSplitOptions.RemoveEmptyEntries);
    }

    /// <summary>Starts paced traffic on the node for <paramref name="duration"/>.</summary>
    public Task GoAsync(TimeSpan duration, int workers) =>
        _process.StandardInput.WriteLineAsync($"go {duration.TotalSeconds.ToString(CultureInfo.InvariantCulture)} {workers}");

    /// <summary>Starts <paramref name="calls"/> calls at once on the node (a storm); <see cref="ResultAsync"/> answers when all ended.</summary>
    public Task StormAsync(int calls) => _process.StandardInput.WriteLineAsync($"storm {calls.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Waits for the node's result line: its successful and failed calls and the first errors.</summary>
    public async Task<(long Ok, long Failed, string Errors)> ResultAsync(CancellationToken cancellationToken)
    {
        var result = (await ExpectAsync("result", cancellationToken)).Split(' ');
        string errors;
        lock (_log) errors = string.Join(Environment.NewLine, _log.Where(l => l.StartsWith("error ", StringComparison.Ordinal)));
        return (long.Parse(result[0], CultureInfo.InvariantCulture), long.Parse(result[1], CultureInfo.InvariantCulture), errors);
    }

    /// <summary>Kills the process at once (SIGKILL): no leave, the others must notice and down it.</summary>
    public void Kill() => _process.Kill(entireProcessTree: true);

    /// <summary>Writes everything the node printed to <paramref name="path"/> (for a failed run's post-mortem).</summary>
    public void SaveLog(string path)
    {
        lock (_log) File.WriteAllLines(path, _log);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.StandardInput.Close();
                using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
                try
                {
                    await _process.WaitForExitAsync(grace.Token);
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
        }
        catch (InvalidOperationException)
        {
            // never started or already gone
        }
        finally
        {
            _process.Dispose();
        }
    }

    private void OnLine(string? line)
    {
        if (line is null)
        {
            _lines.Writer.TryComplete();
            return;
        }
        lock (_log) _log.Add(line);
        if (line.StartsWith("generation ", StringComparison.Ordinal))
        {
            var generation = long.Parse(line["generation ".Length..], CultureInfo.InvariantCulture);
            long seen;
            while ((seen = Interlocked.Read(ref _generation)) < generation && Interlocked.CompareExchange(ref _generation, generation, seen) != seen)
            {
            }
            return;
        }
        if (line.StartsWith("progress ", StringComparison.Ordinal) && line.Split(' ') is [_, _, _])
        {
            var parts = line.Split(' ');
            Interlocked.Exchange(ref _ok, long.Parse(parts[1], CultureInfo.InvariantCulture));
            Interlocked.Exchange(ref _failed, long.Parse(parts[2], CultureInfo.InvariantCulture));
            return;
        }
        _lines.Writer.TryWrite(line);
    }

    private async Task<string> ExpectAsync(string keyword, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                var line = await _lines.Reader.ReadAsync(cancellationToken);
                if (line.StartsWith(keyword + " ", StringComparison.Ordinal)) return line[(keyword.Length + 1)..];
            }
        }
        catch (ChannelClosedException)
        {
            throw new InvalidOperationException($"node {Index} exited before '{keyword}':{Environment.NewLine}{Log}");
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"node {Index} did not say '{keyword}' in time:{Environment.NewLine}{Log}");
        }
    }

    private static string DotnetHost()
    {
        var root = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", ".."));
        var host = Path.Combine(root, OperatingSystem.IsWindows() ? "dotnet.exe" : "dotnet");
        return File.Exists(host) ? host : "dotnet";
    }
}
