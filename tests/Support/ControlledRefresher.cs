using System.Collections.Concurrent;
using Courier.Auth;

namespace Courier.Tests.Support;

/// <summary>
/// A token refresher the test drives: each refresh request waits until the test answers it, so a test decides exactly
/// when a refresh ends and how, and counts how many refreshes were asked for.
/// </summary>
public sealed class ControlledRefresher : ITokenRefresher
{
    private readonly ConcurrentQueue<Pending> _pending = new();
    private int _calls;

    public int Calls => Volatile.Read(ref _calls);

    public IReadOnlyList<string> RefreshTokensSeen => _seen.ToArray();
    private readonly ConcurrentQueue<string> _seen = new();

    /// <summary>When set, refreshes are answered at once with this instead of waiting for the test.</summary>
    public Func<int, TokenRefreshResult>? AutoAnswer { get; set; }

    public Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        var number = Interlocked.Increment(ref _calls);
        _seen.Enqueue(refreshToken);
        if (AutoAnswer is { } auto) return Task.FromResult(auto(number));
        var pending = new Pending(new TaskCompletionSource<TokenRefreshResult>(TaskCreationOptions.RunContinuationsAsynchronously));
        cancellationToken.Register(() => pending.Completion.TrySetCanceled(cancellationToken));
        _pending.Enqueue(pending);
        return pending.Completion.Task;
    }

    /// <summary>Answers the oldest waiting refresh request.</summary>
    public void Answer(TokenRefreshResult result)
    {
        if (!_pending.TryDequeue(out var pending)) throw new InvalidOperationException("No refresh request is waiting.");
        pending.Completion.TrySetResult(result);
    }

    public static TokenRefreshResult Refreshed(string access, string? refresh = null, int expiresInSeconds = 300) =>
        new TokenRefreshResult.Refreshed(access, refresh, TimeSpan.FromSeconds(expiresInSeconds));

    private sealed record Pending(TaskCompletionSource<TokenRefreshResult> Completion);
}
