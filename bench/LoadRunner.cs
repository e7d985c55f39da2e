using System.Collections.Concurrent;
using System.Diagnostics;

namespace Courier.Bench;

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> worker tasks pull call numbers from one shared counter until
/// <c>requests</c> calls have been made. Unlike starting <c>requests</c> tasks at once, this keeps exactly
/// <c>concurrency</c> calls in flight, which is the load a client with that many concurrent users sees, and it
/// does not measure the cost of queueing thousands of tasks.
/// </summary>
internal static class LoadRunner
{
    /// <summary>How long background work of the previous run (actor shutdown, connection clean-up) gets to finish.</summary>
    private static readonly TimeSpan Settle = TimeSpan.FromMilliseconds(100);

    /// <summary>Runs <paramref name="requests"/> calls of <paramref name="call"/>, <paramref name="concurrency"/> at a time.</summary>
    /// <param name="call">One call; it must finish all its work (read and dispose the response) before it completes.
    /// An exception counts as an error, not as a failed run.</param>
    /// <param name="latencies">Receives one latency per call; its capacity must be at least <paramref name="requests"/>.</param>
    /// <param name="beforeStart">Runs after the settling and the GC, just before the clock starts (the storm scenarios
    /// expire the access token there); null for nothing.</param>
    public static async Task<RunResult> RunAsync(int requests, int concurrency, Func<CancellationToken, Task> call,
        LatencyRecorder latencies, CancellationToken cancellationToken, Func<Task>? beforeStart = null)
    {
        latencies.Reset(requests);
        var errors = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var next = -1;

        // Every run starts from the same state: the previous run's stragglers done and its garbage collected, so one
        // client does not pay for another's GC work. Only then is the allocation baseline taken.
        await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        if (beforeStart is not null) await beforeStart().ConfigureAwait(false);

        var allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        var cpuBefore = Environment.CpuUsage.TotalTime;
        var started = Stopwatch.GetTimestamp();

        var workers = new Task[concurrency];
        for (var w = 0; w < workers.Length; w++) workers[w] = Task.Run(Worker, cancellationToken);
        await Task.WhenAll(workers).ConfigureAwait(false);

        var elapsed = Stopwatch.GetElapsedTime(started);
        var cpu = Environment.CpuUsage.TotalTime - cpuBefore;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - allocatedBefore;
        cancellationToken.ThrowIfCancellationRequested();

        return new RunResult(requests, elapsed, cpu, allocated, latencies.Summarize(), errors.Values.Sum(), errors);

        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < requests && !cancellationToken.IsCancellationRequested)
            {
                var start = Stopwatch.GetTimestamp();
                try
                {
                    await call(cancellationToken).ConfigureAwait(false);
                }
                catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
                {
                    errors.AddOrUpdate($"{ex.GetType().Name}: {ex.Message}", 1, (_, n) => n + 1);
                }
                // A failed call's latency is recorded too: errors are reported separately and must be 0 anyway.
                latencies.Record(i, Stopwatch.GetTimestamp() - start);
            }
        }
    }
}

/// <summary>What one run measured.</summary>
/// <param name="Cpu">CPU time of the whole process during the run (user + kernel, all threads).</param>
/// <param name="AllocatedBytes">Bytes allocated by the whole process during the run (all threads).</param>
/// <param name="Errors">Distinct error messages and how often each occurred.</param>
internal sealed record RunResult(int Requests, TimeSpan Elapsed, TimeSpan Cpu, long AllocatedBytes, LatencySummary Latency, int ErrorCount,
    IReadOnlyDictionary<string, int> Errors)
{
    public double RequestsPerSecond => Requests / Elapsed.TotalSeconds;

    public double AllocatedBytesPerCall => (double)AllocatedBytes / Requests;

    /// <summary>
    /// Process CPU time per call. With the server in another process this is the client's own cost, and on a machine
    /// whose cores the client shares with the server it is what limits throughput.
    /// </summary>
    public double CpuMicrosecondsPerCall => Cpu.TotalMicroseconds / Requests;
}
