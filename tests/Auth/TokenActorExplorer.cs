using System.Text;
using Akka.Actor;
using Akka.TestKit;
using Courier.Auth;
using Courier.Tests.Support;

namespace Courier.Tests.Auth;

/// <summary>
/// Runs one random schedule against a TokenActor and checks the refresh invariants after every step. Everything runs
/// on the test's thread: the actor and its store writer on the CallingThreadDispatcher, timers on the TestScheduler, the
/// refresher's and the store's answers with synchronous continuations; so a seed replays the same schedule.
/// </summary>
/// <remarks>
/// The invariants, as a user of a server with refresh-token reuse detection would state them:
/// <list type="number">
/// <item>at most one refresh request in flight (a request abandoned past its in-doubt bound excepted: the documented window;
/// in acquirer mode, one in four schedules, a cancelled acquisition is abandoned at once: it has no refresh token in doubt);</item>
/// <item>never a request with a refresh token that an earlier request spent (answered with a rotated pair);</item>
/// <item>every token request answered exactly once, all of them once the schedule drains;</item>
/// <item>nothing granted after a sign-out until a sign-in;</item>
/// <item>generations only grow;</item>
/// <item>the store sees one operation at a time and its pairs land in the order they were issued;</item>
/// <item>each refresh request is counted as failed at most once;</item>
/// <item>no access token known to have expired is handed out (it is refreshed instead);</item>
/// <item>no timer of an ended refresh acts: with no refresh running and no proactive refresh, time passing sends nothing
/// and publishes no refresh failure.</item>
/// </list>
/// </remarks>
internal sealed class TokenActorExplorer
{
    private const string Dispatcher = "akka.test.calling-thread-dispatcher";

    private readonly ActorSystem _system;
    private readonly TestScheduler _scheduler;
    private readonly Random _random;
    private readonly int _seed;
    private readonly StringBuilder _trace = new();
    private readonly ControlledRefresher _refresher;
    private readonly ExplorerStore _store;
    private readonly Collector _replies;
    private readonly IActorRef _collector;
    private readonly TokenSettings _settings;
    private readonly HashSet<string> _spent = [];
    private readonly Dictionary<long, int> _answers = [];
    private readonly List<long> _calls = [];
    private readonly int _failuresBefore;
    private IActorRef _tokens = ActorRefs.Nobody;
    private long _nextCall;
    private int _nextPair = 1;
    private long _lastGeneration;
    private long _lastGranted;
    private bool _userSignedOut;
    private int _stepNumber;

    // Acquirer mode (client credentials): no refresh token; a cancelled request is forgotten at once, never in doubt.
    private readonly bool _acquire;

    public TokenActorExplorer(ActorSystem system, int seed)
    {
        _system = system;
        _scheduler = (TestScheduler)system.Scheduler;
        _seed = seed;
        _random = new Random(seed);
        var honour = _random.Next(4) != 0;
        _refresher = new ControlledRefresher(honourCancellation: honour, synchronousAnswers: true)
        {
            Clock = () => _scheduler.Now,
        };
        _refresher.OnRequest = OnRefreshRequest;
        _store = new ExplorerStore(Pair());
        _replies = new Collector(() => _scheduler.Now);
        _collector = system.ActorOf(Props.Create(() => new CollectorActor(_replies)).WithDispatcher(Dispatcher));
        _failuresBefore = RefreshFailures.Count;
        _settings = new TokenSettings
        {
            Refresher = _refresher,
            Store = _store,
            RefreshTimeout = TimeSpan.FromSeconds(Pick(3, 5, 30)),
            RefreshAttemptTimeout = TimeSpan.FromSeconds(Pick(2, 10)),
            StoreWriteTimeout = TimeSpan.FromSeconds(Pick(4, 10)),
            RefreshMaxRetries = Pick(0, 1, 3),
            ProactiveRefresh = _random.Next(3) == 0,
            DelayBeforeRetry = TokenActorTestKit.DelayBeforeRetry,
        };
        _acquire = _random.Next(4) == 0;
        if (_acquire) _settings = _settings with { Refresher = null, Acquirer = _refresher }; // client credentials: no refresh token
        // The snapshot calls read at send time (issue 13): checked after every step against what the actor would do.
        _settings = _settings with { Snapshot = _snapshot };
        Trace($"seed {seed}: acquirer {_acquire}, cancellation honoured {honour}, refresh timeout {_settings.RefreshTimeout.TotalSeconds} s, " +
              $"attempt {_settings.RefreshAttemptTimeout.TotalSeconds} s, store bound {_settings.StoreWriteTimeout.TotalSeconds} s, retries {_settings.RefreshMaxRetries}, proactive {_settings.ProactiveRefresh}");
    }

    /// <summary>Refresh failures published on the event stream (all schedules of the system; counted as a difference).</summary>
    public static EventCounter RefreshFailures { get; } = new();

    public string TraceText => _trace.ToString();

    /// <summary>Runs <paramref name="steps"/> random steps, then drains; throws <see cref="ExplorerFailure"/> on a broken invariant.</summary>
    public void Run(int steps)
    {
        // xUnit's synchronization context would take PipeTo's continuations (which capture it) off this thread.
        var context = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        _tokens = _system.ActorOf(TokenActor.Props(_settings).WithDispatcher(Dispatcher));
        try
        {
            // Creation is the one asynchronous step (the actor's Create message); everything after it runs on this thread.
            var sw = System.Diagnostics.Stopwatch.StartNew();
            _tokens.Tell(GetTokenStatus.Instance, _collector);
            while (!_replies.HasStatus && sw.Elapsed < TimeSpan.FromSeconds(5)) Thread.Yield();
            _held.AddRange(_replies.Take().Where(m => m is not TokenStatus));
            _lastGeneration = Status().Generation;
            for (_stepNumber = 1; _stepNumber <= steps; _stepNumber++) Step();
            Drain();
        }
        finally
        {
            _system.Stop(_tokens);
            _system.Stop(_collector);
            SynchronizationContext.SetSynchronizationContext(context);
        }
    }

    private void Step()
    {
        var before = Status();
        var callsBefore = _refresher.Calls;
        var failuresBefore = RefreshFailures.Count;
        var advanced = false;
        switch (_random.Next(100))
        {
            case < 18:
                Call(new GetToken(++_nextCall));
                break;
            case < 30:
                // A refusal, of the current generation or an older one.
                Call(new TokenRejected(++_nextCall, Math.Max(1, _lastGranted - _random.Next(2))));
                break;
            case < 52:
                AnswerRefresh();
                break;
            case < 77:
                Advance(TimeSpan.FromMilliseconds(Pick(1, 100, 300, 1_000, 2_000, 5_000, 10_000, 30_000)));
                advanced = true;
                break;
            case < 88:
                FinishStoreWrite();
                break;
            case < 93:
                var pair = Pair();
                Trace($"SignIn {pair.AccessToken}");
                _userSignedOut = false;
                _tokens.Tell(new SignIn(pair), _collector);
                break;
            default:
                Trace("SignOut");
                _userSignedOut = true;
                _tokens.Tell(SignOut.Instance, _collector);
                break;
        }
        var after = Status();
        Check(after.Generation >= _lastGeneration, $"the generation went back from {_lastGeneration} to {after.Generation}");
        CheckReplies();
        CheckSnapshot(after);
        _lastGeneration = after.Generation;
        if (advanced && before.State is "Ready" or "SignedOut")
        {
            // Time alone: only a proactive refresh may start, and no timer of an ended refresh may act.
            Check(RefreshFailures.Count == failuresBefore, "a refresh failure was published while no refresh was running");
            if (!_settings.ProactiveRefresh || before.State == "SignedOut")
                Check(_refresher.Calls == callsBefore, "a refresh request went out while no refresh was running");
            else if (_refresher.Calls > callsBefore)
                Check(after.State == "Refreshing", $"a refresh request went out while no refresh was running (state {after.State})");
        }
        CheckReplies();
        // Each request fails at most once, whether it timed out, was cancelled, or both.
        Check(RefreshFailures.Count - _failuresBefore <= _refresher.Calls,
            $"{RefreshFailures.Count - _failuresBefore} refresh failures published for {_refresher.Calls} request(s)");
    }

    private void Call(object message)
    {
        var id = message is GetToken g ? g.CallId : ((TokenRejected)message).CallId;
        Trace($"{message}");
        _calls.Add(id);
        _callsSentWhileSignedOut[id] = _userSignedOut;
        _tokens.Tell(message, _collector);
    }

    private readonly Dictionary<long, bool> _callsSentWhileSignedOut = [];
    private readonly TokenSnapshotCell _snapshot = new();

    /// <summary>
    /// A published snapshot is a token the actor would grant right now: only in Ready, never after a sign-out, of the
    /// current generation, never older than a token already granted, and (as read) never one known to have expired.
    /// </summary>
    private void CheckSnapshot(TokenStatus status)
    {
        if (_snapshot.Current is not { } published) return;
        Check(status.State == "Ready", $"a token snapshot was published in state {status.State}");
        Check(!_userSignedOut, "a token snapshot was still published after a sign-out");
        Check(published.Generation == status.Generation, $"the snapshot has generation {published.Generation}, the actor {status.Generation}");
        Check(published.Generation >= _lastGranted, $"the snapshot has generation {published.Generation} after {_lastGranted} was granted");
        if (_snapshot.TryGet(_scheduler.Now) is { } readable && _expiry.TryGetValue(readable.AccessToken, out var expiry))
            Check(expiry > _scheduler.Now, "a call reading the snapshot would send an access token known to have expired");
    }
    private readonly List<object> _held = [];
    private string? _violation;
    private readonly Dictionary<string, DateTimeOffset> _expiry = [];

    private void AnswerRefresh()
    {
        var pending = _refresher.Requests.Where(r => !r.IsEnded).ToList();
        if (pending.Count == 0)
        {
            Trace("(no refresh request waiting)");
            return;
        }
        var request = pending[_random.Next(pending.Count)];
        TokenRefreshResult result;
        switch (_random.Next(10))
        {
            case < 5:
                var pair = Pair();
                int? expiresIn = Pick<int?>(null, 0, 30, 300, int.MaxValue / 2);
                var rotates = _random.Next(5) != 0;
                result = new TokenRefreshResult.Refreshed(pair.AccessToken, rotates ? pair.RefreshToken : null,
                    expiresIn is { } s ? TimeSpan.FromSeconds(s) : null);
                // A rotation spends the old token (unless the request was abandoned past its in-doubt bound: the documented window).
                if (rotates && !IsAbandoned(request) && !_acquire) _spent.Add(request.RefreshToken);
                if (expiresIn is > 0) _expiry[pair.AccessToken] = _scheduler.Now + TimeSpan.FromSeconds(expiresIn.Value);
                break;
            case < 7:
                result = new TokenRefreshResult.Rejected("invalid_grant");
                break;
            default:
                result = new TokenRefreshResult.Failed("503");
                break;
        }
        Trace($"answer request {request.Number} ({request.RefreshToken}): {result}");
        _refresher.Answer(request.Number, result);
    }

    private bool IsAbandoned(ControlledRefresher.Request request) =>
        request.CancelRequestedAt is { } at && (_acquire || _scheduler.Now >= at + _settings.RefreshAttemptTimeout);

    private void OnRefreshRequest(ControlledRefresher.Request request)
    {
        Trace($"  refresh request {request.Number} with {request.RefreshToken}");
        var others = _refresher.Requests.Where(r => r.Number != request.Number && !r.IsEnded && !IsAbandoned(r)).ToList();
        // Recorded, not thrown: this runs inside the actor's call to the refresher, which would turn an exception into a failed refresh.
        if (others.Count > 0)
            _violation ??= $"refresh request {request.Number} went out while request {others[0].Number} may still be processed";
        if (_spent.Contains(request.RefreshToken))
            _violation ??= $"refresh request {request.Number} reuses {request.RefreshToken}, which an earlier request spent";
    }

    private void FinishStoreWrite()
    {
        if (_store.Pending is not { } write)
        {
            Trace("(no store write waiting)");
            return;
        }
        switch (_random.Next(6))
        {
            case 0:
                Trace($"store write of {write.Pair.AccessToken} never completes");
                _store.Hang();
                break;
            case 1:
                Trace($"store write of {write.Pair.AccessToken} fails");
                _store.Finish(new TokenStoreException("disk full"));
                break;
            default:
                Trace($"store write of {write.Pair.AccessToken} completes");
                _store.Finish(null);
                break;
        }
    }

    private void Advance(TimeSpan by)
    {
        Trace($"advance {by.TotalMilliseconds} ms");
        _scheduler.Advance(by);
    }

    /// <summary>Lets everything end: store writes complete, refresh requests fail, time passes; then every call must have its answer.</summary>
    private void Drain()
    {
        Trace("drain");
        for (var round = 0; round < 20; round++)
        {
            while (_store.Pending is not null) _store.Finish(null);
            foreach (var request in _refresher.Requests.Where(r => !r.IsEnded && !IsAbandoned(r)))
                _refresher.Answer(request.Number, new TokenRefreshResult.Failed("drain"));
            _scheduler.Advance(TimeSpan.FromSeconds(31));
            CheckReplies();
        }
        var unanswered = _calls.Where(c => !_answers.ContainsKey(c)).ToList();
        Check(unanswered.Count == 0, $"{unanswered.Count} token request(s) never answered (first: call {unanswered.FirstOrDefault()}), state {Status().State}");
        Check(_store.MaxConcurrent <= 1, "the store ran two operations at once");
    }

    private void CheckReplies()
    {
        var replies = _held.Concat(_replies.Take()).ToList();
        _held.Clear();
        foreach (var reply in replies)
        {
            switch (reply)
            {
                case TokenGranted granted:
                    Trace($"  -> {granted}");
                    Count(granted.CallId);
                    Check(!_callsSentWhileSignedOut.GetValueOrDefault(granted.CallId), $"call {granted.CallId}, made after a sign-out, was granted a token");
                    Check(granted.Generation >= _lastGranted, $"call {granted.CallId} was granted generation {granted.Generation} after {_lastGranted}");
                    _lastGranted = granted.Generation;
                    Check(!_expiry.TryGetValue(granted.AccessToken, out var expiry) || expiry > _replies.ArrivedAt[granted],
                        $"call {granted.CallId} was handed an access token known to have expired");
                    break;
                case TokenUnavailable unavailable:
                    Trace($"  -> unavailable {unavailable.CallId}: {unavailable.Error.Message}");
                    Count(unavailable.CallId);
                    break;
            }
        }
        Check(_store.MaxConcurrent <= 1, "the store ran two operations at once");
        Check(_store.OutOfOrder is null, $"the store received {_store.OutOfOrder} after a newer pair");
    }

    private void Count(long callId)
    {
        _answers[callId] = _answers.GetValueOrDefault(callId) + 1;
        Check(_answers[callId] == 1, $"call {callId} was answered {_answers[callId]} times");
    }

    private TokenStatus Status()
    {
        _tokens.Tell(GetTokenStatus.Instance, _collector);
        // Almost always answered at once; an async store write's end can hop to the pool and take the actor with it.
        var wait = System.Diagnostics.Stopwatch.StartNew();
        while (!_replies.HasStatus && wait.Elapsed < TimeSpan.FromSeconds(5)) Thread.Yield();
        var taken = _replies.Take();
        _held.AddRange(taken.Where(m => m is not TokenStatus));
        var status = taken.OfType<TokenStatus>().LastOrDefault();
        Check(status is not null, "the TokenActor did not answer a status request at once (something ran off the test's thread)");
        return status!;
    }

    private TokenPair Pair()
    {
        var n = _nextPair++;
        return new TokenPair($"a{n}", $"r{n}");
    }

    private T Pick<T>(params T[] values) => values[_random.Next(values.Length)];

    private void Trace(string line) => _trace.Append(_stepNumber).Append(": ").AppendLine(line);

    private void Check(bool condition, string what)
    {
        if (_violation is { } violation) throw new ExplorerFailure(_seed, _stepNumber, violation, _trace.ToString());
        if (!condition) throw new ExplorerFailure(_seed, _stepNumber, what, _trace.ToString());
    }

    /// <summary>A store whose writes the explorer finishes (or never finishes), one at a time, checking the order.</summary>
    private sealed class ExplorerStore(TokenPair initial) : ITokenStore
    {
        private readonly Queue<(TokenPair Pair, TaskCompletionSource Done)> _writes = new();
        private int _running;
        private int _lastSaved = Number(initial);

        public int MaxConcurrent { get; private set; }
        public string? OutOfOrder { get; private set; }
        public (TokenPair Pair, TaskCompletionSource Done)? Pending => _writes.Count > 0 ? _writes.Peek() : null;

        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) => Task.FromResult<TokenPair?>(initial);

        public Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken)
        {
            MaxConcurrent = Math.Max(MaxConcurrent, ++_running);
            if (Number(credentials) < _lastSaved) OutOfOrder ??= credentials.AccessToken;
            _lastSaved = Number(credentials);
            var done = new TaskCompletionSource(); // continuations inline: the write's end reaches the actor at once
            _writes.Enqueue((credentials, done));
            return done.Task;
        }

        public Task ClearAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public void Finish(Exception? error)
        {
            var (_, done) = _writes.Dequeue();
            _running--;
            if (error is null) done.SetResult();
            else done.SetException(error);
        }

        /// <summary>The pending write never completes; later writes queue behind it in the actor's store writer.</summary>
        public void Hang() => _writes.Dequeue();

        private static int Number(TokenPair pair) => int.Parse(pair.AccessToken.AsSpan(1));
    }

    /// <summary>Keeps the replies, each stamped with the scheduler's time when it arrived.</summary>
    private sealed class Collector(Func<DateTimeOffset> clock)
    {
        private readonly List<object> _messages = [];

        public Dictionary<object, DateTimeOffset> ArrivedAt { get; } = new(ReferenceEqualityComparer.Instance);

        public void Add(object message)
        {
            lock (_messages)
            {
                _messages.Add(message);
                ArrivedAt[message] = clock();
            }
        }

        public bool HasStatus { get { lock (_messages) return _messages.Any(m => m is TokenStatus); } }

        public List<object> Take()
        {
            lock (_messages)
            {
                var taken = _messages.ToList();
                _messages.Clear();
                return taken;
            }
        }
    }

    private sealed class CollectorActor : ReceiveActor
    {
        public CollectorActor(Collector collector) => ReceiveAny(collector.Add);
    }

    /// <summary>Counts one event type published on an event stream (a subscriber on the calling thread).</summary>
    public sealed class EventCounter
    {
        public int Count { get; private set; }

        public void Increment() => Count++;
    }
}

/// <summary>A broken invariant: names the seed to replay (<c>COURIER_EXPLORER_SEED</c>), the step, and the schedule so far.</summary>
public sealed class ExplorerFailure(int seed, int step, string what, string trace)
    : Exception($"schedule seed {seed} broke an invariant at step {step}: {what}\nreplay with COURIER_EXPLORER_SEED={seed}\n{trace}")
{
    public int Seed { get; } = seed;
}
