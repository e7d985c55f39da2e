using System.Collections.Concurrent;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Counters;

/// <summary>
/// The live, lock-free counters of one key. Common methods are counted in fixed slots so the hot path does not
/// touch a dictionary; unusual methods and idempotency keys go to lazily created concurrent dictionaries.
/// </summary>
internal sealed class KeyCounterState
{
    private static readonly string[] KnownMethods =
    [
        HttpMethods.Get, HttpMethods.Post, HttpMethods.Put, HttpMethods.Delete,
        HttpMethods.Patch, HttpMethods.Head, HttpMethods.Options,
    ];

    private readonly long[] _knownMethodCounts = new long[KnownMethods.Length];
    private ConcurrentDictionary<string, long>? _otherMethods;
    private ConcurrentDictionary<string, long>? _idempotencyKeys;
    private long _requests;
    private int _inFlight;
    private int _maxInFlight;

    /// <summary>Counts a request that starts now and returns its 1-based attempt number for the key.</summary>
    public long BeginRequest(string method, string? idempotencyKey)
    {
        var attempt = Interlocked.Increment(ref _requests);
        CountMethod(method);
        if (!string.IsNullOrEmpty(idempotencyKey))
        {
            Increment(LazyInitializer.EnsureInitialized(ref _idempotencyKeys, NewDictionary), idempotencyKey);
        }

        var inFlight = Interlocked.Increment(ref _inFlight);
        int seen;
        while (inFlight > (seen = Volatile.Read(ref _maxInFlight))
               && Interlocked.CompareExchange(ref _maxInFlight, inFlight, seen) != seen)
        {
        }

        return attempt;
    }

    /// <summary>Marks a request started with <see cref="BeginRequest"/> as finished.</summary>
    public void EndRequest() => Interlocked.Decrement(ref _inFlight);

    public SandboxKeyCounters Snapshot()
    {
        var byMethod = new Dictionary<string, long>(StringComparer.Ordinal);
        for (var i = 0; i < KnownMethods.Length; i++)
        {
            var count = Interlocked.Read(ref _knownMethodCounts[i]);
            if (count > 0)
            {
                byMethod[KnownMethods[i]] = count;
            }
        }

        if (Volatile.Read(ref _otherMethods) is { } others)
        {
            foreach (var (method, count) in others)
            {
                byMethod[method] = count;
            }
        }

        var byIdempotencyKey = Volatile.Read(ref _idempotencyKeys) is { } keys
            ? new Dictionary<string, long>(keys, StringComparer.Ordinal)
            : new Dictionary<string, long>(StringComparer.Ordinal);

        return new SandboxKeyCounters(
            Interlocked.Read(ref _requests),
            Volatile.Read(ref _inFlight),
            Volatile.Read(ref _maxInFlight),
            byMethod,
            byIdempotencyKey);
    }

    private void CountMethod(string method)
    {
        for (var i = 0; i < KnownMethods.Length; i++)
        {
            // Kestrel interns known methods, so the reference check almost always hits.
            if (ReferenceEquals(method, KnownMethods[i]) || string.Equals(method, KnownMethods[i], StringComparison.OrdinalIgnoreCase))
            {
                Interlocked.Increment(ref _knownMethodCounts[i]);
                return;
            }
        }

        Increment(LazyInitializer.EnsureInitialized(ref _otherMethods, NewDictionary), method.ToUpperInvariant());
    }

    private static ConcurrentDictionary<string, long> NewDictionary() => new(StringComparer.Ordinal);

    private static void Increment(ConcurrentDictionary<string, long> counts, string name) =>
        counts.AddOrUpdate(name, 1, static (_, count) => count + 1);
}
