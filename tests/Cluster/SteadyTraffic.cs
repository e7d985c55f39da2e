using Courier.Requests;

namespace Courier.Tests.Cluster;

/// <summary>
/// A few paced workers per node calling one URL until stopped (or for at most <see cref="MaxDuration"/>), counting
/// successes and failures per node. Calls of a node that was stopped are not counted: they end with their node.
/// </summary>
public sealed class SteadyTraffic : IAsyncDisposable
{
    /// <summary>The longest a traffic run lasts, whatever happens.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromSeconds(90);

    private readonly CancellationTokenSource _stop = new(MaxDuration);
    private readonly long[] _successes;
    private readonly long[] _failures;
    private readonly List<string> _errors = [];
    private readonly List<(int Node, long Count, TaskCompletionSource Done)> _waiters = [];
    private readonly Task _workers;

    private SteadyTraffic(IReadOnlyList<ClusterTestNodes.Node> nodes, Uri url, int workersPerNode, TimeSpan pace)
    {
        _successes = new long[nodes.Count];
        _failures = new long[nodes.Count];
        _workers = Task.WhenAll(nodes.SelectMany(node => Enumerable.Range(0, workersPerNode).Select(_ => Task.Run(() => WorkAsync(node, url, pace)))));
    }

    /// <summary>Starts <paramref name="workersPerNode"/> workers on every node, each sending one call per <paramref name="pace"/>.</summary>
    public static SteadyTraffic Start(IReadOnlyList<ClusterTestNodes.Node> nodes, Uri url, int workersPerNode = 4, TimeSpan? pace = null) =>
        new(nodes, url, workersPerNode, pace ?? TimeSpan.FromMilliseconds(20));

    /// <summary>Successful calls of the node at <paramref name="index"/> so far.</summary>
    public long Successes(int index) => Interlocked.Read(ref _successes[index]);

    /// <summary>Failed calls of the node at <paramref name="index"/> so far (calls cut by the node's own stop excluded).</summary>
    public long Failures(int index) => Interlocked.Read(ref _failures[index]);

    /// <summary>The first few failures' messages, for assertion output.</summary>
    public string Errors
    {
        get
        {
            lock (_errors) return string.Join(Environment.NewLine, _errors);
        }
    }

    /// <summary>Completes once each of <paramref name="nodes"/> has had <paramref name="more"/> more successful calls than now.</summary>
    public Task MoreSuccessesAsync(IEnumerable<ClusterTestNodes.Node> nodes, int more, CancellationToken cancellationToken)
    {
        var tasks = new List<Task>();
        lock (_waiters)
        {
            foreach (var node in nodes)
            {
                var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Add((node.Index, Successes(node.Index) + more, done));
                tasks.Add(done.Task);
            }
        }
        return Task.WhenAll(tasks).WaitAsync(cancellationToken);
    }

    /// <summary>Stops the workers and waits for them.</summary>
    public async Task StopAsync()
    {
        await _stop.CancelAsync();
        await _workers;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task WorkAsync(ClusterTestNodes.Node node, Uri url, TimeSpan pace)
    {
        using var timer = new PeriodicTimer(pace);
        while (!node.Stopped && !_stop.IsCancellationRequested)
        {
            try
            {
                using var response = await node.Client.SendAsync(HttpCall.Get(url), _stop.Token);
                var count = Interlocked.Increment(ref _successes[node.Index]);
                Notify(node.Index, count);
            }
            catch (Exception) when (node.Stopped || _stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref _failures[node.Index]);
                lock (_errors)
                    if (_errors.Count < 10) _errors.Add($"node {node.Index}: {ex.GetType().Name}: {ex.Message}");
            }
            try
            {
                await timer.WaitForNextTickAsync(_stop.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private void Notify(int index, long count)
    {
        lock (_waiters)
        {
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                if (_waiters[i].Node != index || _waiters[i].Count > count) continue;
                _waiters[i].Done.TrySetResult();
                _waiters.RemoveAt(i);
            }
        }
    }
}
