using System.Collections.Concurrent;
using Courier.Sandbox.Counters;

namespace Courier.Sandbox;

/// <summary>
/// Per-key request counters of the echo resources (<c>/api/...</c> and <c>/secure/...</c>), keyed by the
/// <c>X-Sandbox-Key</c> request header. Thread-safe and lock-free.
/// </summary>
public sealed class SandboxCounters
{
    private readonly ConcurrentDictionary<string, KeyCounterState> _keys = new(StringComparer.Ordinal);

    internal SandboxCounters()
    {
    }

    /// <summary>The keys that have received at least one request since the last reset.</summary>
    public IReadOnlyCollection<string> Keys => _keys.Keys.ToArray();

    /// <summary>Returns a snapshot of the counters of <paramref name="key"/> (all zero if it has seen no request).</summary>
    public SandboxKeyCounters For(string key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return _keys.TryGetValue(key, out var state) ? state.Snapshot() : SandboxKeyCounters.Empty;
    }

    /// <summary>Clears the counters of every key; the next request of any key is attempt 1 again.</summary>
    public void Reset() => _keys.Clear();

    /// <summary>Clears the counters of one key.</summary>
    public void Reset(string key) => _keys.TryRemove(key, out _);

    internal KeyCounterState GetOrAdd(string key) => _keys.GetOrAdd(key, static _ => new KeyCounterState());
}
