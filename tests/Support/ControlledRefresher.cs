using Courier.Auth;

namespace Courier.Tests.Support;

/// <summary>
/// A token refresher the test drives: each refresh request waits until the test answers it, so a test decides exactly
/// when a refresh ends and how, and counts how many refreshes were asked for and how many were in flight at once.
/// </summary>
/// <param name="honourCancellation">When true (like the HTTP refreshers) a cancelled request ends at once as cancelled;
/// when false it waits for the test's answer whatever happens (a server that answers late).</param>
/// <param name="synchronousAnswers">When true an answer's continuations run inside <see cref="Answer"/> (the schedule
/// explorer needs the answer in the actor's mailbox when <see cref="Answer"/> returns); by default they run on the pool.</param>
public sealed class ControlledRefresher(bool honourCancellation = true, bool synchronousAnswers = false) : ITokenRefresher
{
    private readonly object _gate = new();
    private readonly List<Request> _requests = [];
    private int _inFlight;
    private int _maxInFlight;

    /// <summary>Requests made so far.</summary>
    public int Calls { get { lock (_gate) return _requests.Count; } }

    /// <summary>The refresh token of each request, in order.</summary>
    public IReadOnlyList<string> RefreshTokensSeen { get { lock (_gate) return _requests.Select(r => r.RefreshToken).ToArray(); } }

    /// <summary>Every request, in order.</summary>
    public IReadOnlyList<Request> Requests { get { lock (_gate) return _requests.ToArray(); } }

    /// <summary>Requests whose task has not ended.</summary>
    public int InFlight => Volatile.Read(ref _inFlight);

    /// <summary>The most requests that were ever in flight at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>When set, refreshes are answered at once with this instead of waiting for the test.</summary>
    public Func<int, TokenRefreshResult>? AutoAnswer { get; set; }

    /// <summary>The clock that stamps <see cref="Request.CancelRequestedAt"/> (the test's scheduler).</summary>
    public Func<DateTimeOffset>? Clock { get; set; }

    /// <summary>Called inside <see cref="RefreshAsync"/> with each new request (the explorer checks its invariants there).</summary>
    public Action<Request>? OnRequest { get; set; }

    public Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        Request request;
        lock (_gate)
        {
            request = new Request(_requests.Count + 1, refreshToken,
                new TaskCompletionSource<TokenRefreshResult>(synchronousAnswers ? TaskCreationOptions.None : TaskCreationOptions.RunContinuationsAsynchronously));
            _requests.Add(request);
            _maxInFlight = Math.Max(_maxInFlight, ++_inFlight);
        }
        // Counted as ended before any continuation runs (the actor may send the next request from one).
        request.Ended += () => Interlocked.Decrement(ref _inFlight);
        OnRequest?.Invoke(request);
        if (AutoAnswer is { } auto)
        {
            request.Complete(auto(request.Number));
            return request.Task;
        }
        cancellationToken.Register(() =>
        {
            request.CancelRequestedAt ??= Clock?.Invoke() ?? DateTimeOffset.MinValue;
            if (honourCancellation) request.Cancel(cancellationToken);
        });
        return request.Task;
    }

    /// <summary>Answers the oldest request still waiting.</summary>
    public void Answer(TokenRefreshResult result)
    {
        var pending = Requests.FirstOrDefault(r => !r.IsEnded) ?? throw new InvalidOperationException("No refresh request is waiting.");
        pending.Complete(result);
    }

    /// <summary>Answers request number <paramref name="number"/> (1-based); false when it had already ended.</summary>
    public bool Answer(int number, TokenRefreshResult result) => Requests[number - 1].Complete(result);

    public static TokenRefreshResult Refreshed(string access, string? refresh = null, int expiresInSeconds = 300) =>
        new TokenRefreshResult.Refreshed(access, refresh, TimeSpan.FromSeconds(expiresInSeconds));

    /// <summary>One request to the token endpoint.</summary>
    public sealed class Request(int number, string refreshToken, TaskCompletionSource<TokenRefreshResult> completion)
    {
        private int _ended;

        public int Number { get; } = number;
        public string RefreshToken { get; } = refreshToken;
        public bool IsEnded => Volatile.Read(ref _ended) == 1;
        public bool WasCancelled { get; private set; }
        /// <summary>When the actor cancelled it (whether or not it ended then), by <see cref="Clock"/>.</summary>
        public DateTimeOffset? CancelRequestedAt { get; internal set; }
        /// <summary>What it was answered with, if the test answered it.</summary>
        public TokenRefreshResult? Result { get; private set; }
        internal Task<TokenRefreshResult> Task => completion.Task;
        internal event Action? Ended;

        internal bool Complete(TokenRefreshResult result)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1) return false;
            Result = result;
            Ended?.Invoke();
            completion.SetResult(result);
            return true;
        }

        internal void Cancel(CancellationToken token)
        {
            if (Interlocked.Exchange(ref _ended, 1) == 1) return;
            WasCancelled = true;
            Ended?.Invoke();
            completion.SetCanceled(token);
        }
    }
}
