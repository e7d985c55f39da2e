using Akka.Actor;
using Akka.Event;

namespace Courier.Auth;

/// <summary>
/// The refresh core shared by the TokenActor and the cluster's credential owner: it sends the requests to the token
/// endpoint, correlates their answers and timers, and turns them into <see cref="RefreshDecision"/>s for its actor, which
/// owns the credentials and the waiting calls. It is not an actor: its actor routes the four core messages
/// (<see cref="RefreshAnswered"/>, <see cref="RefreshAttemptTimedOut"/>, <see cref="RefreshRetryDue"/>,
/// <see cref="RefreshInDoubtOver"/>) to it in every state, and it runs on the actor's thread.
/// </summary>
/// <remarks>
/// <para>Correlation: every refresh and every request gets an id from one counter that is never reset in the actor's
/// life, so the late answer or timer of an earlier refresh can never be taken for one of the current refresh.</para>
/// <para>At most one request in flight, ever: a request that timed out (or whose refresh was abandoned) is cancelled,
/// but its refresh token is <em>in doubt</em>: the server may have processed it and rotated the token. No second request
/// goes out until the first one's task has ended (then a success is still adopted, whatever timed out meanwhile) or, for a
/// refresher that ignores cancellation, until the in-doubt bound (one more attempt timeout) has passed: only then is the
/// request abandoned and the refresh token sent again. That window is documented in the README.</para>
/// <para>An acquisition (<see cref="ITokenAcquirer"/>, the client credentials grant) has no refresh token to be in
/// doubt about: a request that timed out or was abandoned is cancelled and forgotten at once (its late answer is dropped),
/// and the next request may go out without waiting for it.</para>
/// <para>Accepting an answer (adopt, sign out, give up) cancels every timer of the refresh.</para>
/// </remarks>
internal sealed class RefreshCore
{
    private const string AttemptTimer = "refresh-core-attempt";
    private const string RetryTimer = "refresh-core-retry";
    private const string InDoubtTimer = "refresh-core-in-doubt";

    private readonly ITokenRefresher? _refresher;
    private readonly ITokenAcquirer? _acquirer;
    private readonly RefreshCoreSettings settings;
    private readonly IWithTimers owner;
    private readonly IActorRef self;
    private readonly ILoggingAdapter log;

    private long _lastId;
    private Run? _run;
    private Request? _inFlight;

    /// <summary>A core that renews with a refresh token (<see cref="Begin"/> is given it).</summary>
    public RefreshCore(ITokenRefresher refresher, RefreshCoreSettings settings, IWithTimers owner, IActorRef self, ILoggingAdapter log)
        : this(refresher, null, settings, owner, self, log)
    {
    }

    /// <summary>A core that acquires a new token without a refresh token (<see cref="Begin"/> is given null).</summary>
    public RefreshCore(ITokenAcquirer acquirer, RefreshCoreSettings settings, IWithTimers owner, IActorRef self, ILoggingAdapter log)
        : this(null, acquirer, settings, owner, self, log)
    {
    }

    private RefreshCore(ITokenRefresher? refresher, ITokenAcquirer? acquirer, RefreshCoreSettings settings, IWithTimers owner, IActorRef self,
        ILoggingAdapter log)
    {
        _refresher = refresher;
        _acquirer = acquirer;
        this.settings = settings;
        this.owner = owner;
        this.self = self;
        this.log = log;
    }

    /// <summary>True when this core acquires (no refresh token) rather than refreshes.</summary>
    public bool Acquires => _acquirer is not null;

    private ITimerScheduler Timers => owner.Timers;

    /// <summary>
    /// Starts a refresh of <paramref name="refreshToken"/> (null for an acquisition): its first request goes out now, or
    /// once the request in flight has ended.
    /// </summary>
    public void Begin(string? refreshToken)
    {
        if (_run is not null) throw new InvalidOperationException("A refresh is already running.");
        if ((refreshToken is null) != Acquires)
            throw new InvalidOperationException(Acquires ? "An acquisition takes no refresh token." : "A refresh needs a refresh token.");
        _run = new Run(++_lastId, refreshToken);
        Send();
    }

    /// <summary>Ends the running refresh without an answer (its deadline, a hand-over): its request, if any, is cancelled and stays in doubt.</summary>
    public void Abort()
    {
        Timers.Cancel(RetryTimer);
        _run = null;
        if (_inFlight is { TimedOut: false } request) PutInDoubt(request);
    }

    /// <summary>Cancels the request in flight (the actor stops).</summary>
    public void Stop()
    {
        _run = null;
        _inFlight?.Cancellation.Cancel();
    }

    /// <summary>
    /// A request's task ended. Returns the decision the actor must carry out, or null. <paramref name="currentRefreshToken"/>
    /// is the refresh token the actor holds now: a success for it arriving after its refresh was abandoned is still
    /// adopted, because the server has rotated that token and the old one is spent.
    /// </summary>
    public RefreshDecision? OnAnswered(RefreshAnswered m, string? currentRefreshToken, DateTimeOffset now)
    {
        if (_inFlight?.Id != m.Attempt)
        {
            log.Debug("Dropped the answer of abandoned refresh request {0}.", m.Attempt);
            return null;
        }
        var ended = _inFlight;
        _inFlight = null;
        ended.Cancellation.Dispose();
        Timers.Cancel(AttemptTimer);
        Timers.Cancel(InDoubtTimer);

        if (_run is { } run && run.RefreshToken == ended.RefreshToken)
        {
            // A failure already counted (the request timed out) or belonging to an earlier refresh is not counted again.
            var counted = ended.Run == run.Id && !ended.TimedOut;
            if (counted || m.Result is not TokenRefreshResult.Failed)
                return Apply(RefreshDecision.Decide(m.Result, Math.Max(run.Attempts, 1), run.RefreshToken, settings.MaxRetries, settings.DelayBeforeRetry, now));
            if (run.SendWhenFree) Send();
            return null;
        }
        if (_run is { SendWhenFree: true }) Send();
        if (_run is null && m.Result is TokenRefreshResult.Refreshed && ended.RefreshToken is not null && ended.RefreshToken == currentRefreshToken)
        {
            log.Warning("A refresh request that was given up on has succeeded; its new pair is adopted (the old refresh token is spent).");
            return RefreshDecision.Decide(m.Result, 1, ended.RefreshToken, settings.MaxRetries, settings.DelayBeforeRetry, now);
        }
        return null;
    }

    /// <summary>A request did not answer within the attempt timeout: it is cancelled and put in doubt, and the failure counted once.</summary>
    public RefreshDecision? OnAttemptTimedOut(RefreshAttemptTimedOut m)
    {
        if (_inFlight is not { TimedOut: false } request || request.Id != m.Attempt) return null;
        PutInDoubt(request);
        if (_run is not { } run || run.Id != request.Run) return null;
        return Apply(RefreshDecision.Decide(
            new TokenRefreshResult.Failed($"the token endpoint did not answer within {settings.AttemptTimeout.TotalSeconds:0.###} s"),
            run.Attempts, run.RefreshToken, settings.MaxRetries, settings.DelayBeforeRetry, default));
    }

    /// <summary>The retry delay of a refresh has passed: its next request goes out (or once the one in doubt has ended).</summary>
    public void OnRetryDue(RefreshRetryDue m)
    {
        if (_run?.Id == m.Run) Send();
    }

    /// <summary>A cancelled request did not end within the in-doubt bound: it is abandoned, and a waiting request may go out.</summary>
    public void OnInDoubtOver(RefreshInDoubtOver m)
    {
        if (_inFlight?.Id != m.Attempt) return;
        log.Warning("Refresh request {0} did not end within {1} s of its cancellation; it is abandoned and its refresh token may be sent again.",
            m.Attempt, settings.AttemptTimeout.TotalSeconds);
        _inFlight = null;
        if (_run is { SendWhenFree: true }) Send();
    }

    private RefreshDecision Apply(RefreshDecision decision)
    {
        if (decision is RefreshDecision.RetryAfter retry)
        {
            Timers.StartSingleTimer(RetryTimer, new RefreshRetryDue(_run!.Id), retry.Delay);
            return decision;
        }
        // Adopt, sign out or give up: the refresh is over and none of its timers may act any more.
        Timers.Cancel(RetryTimer);
        Timers.Cancel(AttemptTimer);
        _run = null;
        return decision;
    }

    private void PutInDoubt(Request request)
    {
        request.TimedOut = true;
        Timers.Cancel(AttemptTimer);
        if (request.RefreshToken is null)
        {
            // An acquisition spends nothing: forget it (its late answer is dropped) so the next request need not wait.
            _inFlight = null;
            request.Cancellation.Cancel();
            return;
        }
        Timers.StartSingleTimer(InDoubtTimer, new RefreshInDoubtOver(request.Id), settings.AttemptTimeout);
        // Cancelling may end the task at once; its answer then arrives as a message, after this turn.
        request.Cancellation.Cancel();
    }

    private void Send()
    {
        var run = _run!;
        if (_inFlight is not null)
        {
            run.SendWhenFree = true; // the refresh token of the request in flight is in doubt: never two at once
            return;
        }
        run.SendWhenFree = false;
        run.Attempts++;
        var id = ++_lastId;
        var request = new Request(id, run.Id, run.RefreshToken, new CancellationTokenSource());
        _inFlight = request;
        Timers.StartSingleTimer(AttemptTimer, new RefreshAttemptTimedOut(id), settings.AttemptTimeout);
        Task<TokenRefreshResult> task;
        try
        {
            task = run.RefreshToken is null
                ? _acquirer!.AcquireAsync(request.Cancellation.Token)
                : _refresher!.RefreshAsync(run.RefreshToken, request.Cancellation.Token);
        }
        catch (Exception ex)
        {
            task = Task.FromException<TokenRefreshResult>(ex);
        }
        task.PipeTo(self,
            success: result => new RefreshAnswered(id, result),
            failure: error => new RefreshAnswered(id, new TokenRefreshResult.Failed(error.GetType().Name + ": " + error.Message, error)));
    }

    private sealed class Run(long id, string? refreshToken)
    {
        public long Id { get; } = id;
        public string? RefreshToken { get; } = refreshToken;
        public int Attempts { get; set; }
        public bool SendWhenFree { get; set; }
    }

    private sealed class Request(long id, long run, string? refreshToken, CancellationTokenSource cancellation)
    {
        public long Id { get; } = id;
        public long Run { get; } = run;
        public string? RefreshToken { get; } = refreshToken;
        public CancellationTokenSource Cancellation { get; } = cancellation;
        public bool TimedOut { get; set; }
    }
}

/// <summary>The refresh core's settings.</summary>
/// <param name="AttemptTimeout">How long one request may take; also the in-doubt bound after its cancellation.</param>
/// <param name="MaxRetries">Retries after the first request.</param>
/// <param name="DelayBeforeRetry">The delay before retry number n (0-based).</param>
internal sealed record RefreshCoreSettings(TimeSpan AttemptTimeout, int MaxRetries, Func<int, TimeSpan> DelayBeforeRetry);

/// <summary>A request of the refresh core ended (answered, failed or cancelled).</summary>
internal sealed record RefreshAnswered(long Attempt, TokenRefreshResult Result);

/// <summary>A request of the refresh core reached its attempt timeout.</summary>
internal sealed record RefreshAttemptTimedOut(long Attempt);

/// <summary>The retry delay of refresh <paramref name="Run"/> has passed.</summary>
internal sealed record RefreshRetryDue(long Run);

/// <summary>A cancelled request of the refresh core has not ended within the in-doubt bound.</summary>
internal sealed record RefreshInDoubtOver(long Attempt);
