using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// A TokenActor on its own, on virtual time (TestScheduler), with a refresher and a store the test drives: the test
/// plays the calls (GetToken, TokenRejected) and the token endpoint.
/// </summary>
public abstract class TokenActorTestKit(ITestOutputHelper output, bool honourCancellation = true)
    : TestKit(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
{
    /// <summary>The retry delay of retry n (0-based): 100 ms, 200 ms, 300 ms…, easy to tell apart.</summary>
    internal static TimeSpan DelayBeforeRetry(int retry) => TimeSpan.FromMilliseconds(100 * (retry + 1));

    protected ControlledRefresher Refresher { get; } = new(honourCancellation, synchronousAnswers: true);

    protected TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    /// <summary>Starts a TokenActor holding <paramref name="initial"/> in <paramref name="store"/> (an in-memory store by default).</summary>
    internal IActorRef StartTokens(TokenPair? initial, ITokenStore? store = null, Func<TokenSettings, TokenSettings>? configure = null,
        bool withRefresher = true)
    {
        var settings = new TokenSettings
        {
            Refresher = withRefresher ? Refresher : null,
            Store = store ?? new InMemoryTokenStore(initial),
            RefreshTimeout = TimeSpan.FromSeconds(30),
            RefreshAttemptTimeout = TimeSpan.FromSeconds(10),
            RefreshMaxRetries = 3,
            ProactiveRefresh = false,
            DelayBeforeRetry = DelayBeforeRetry,
        };
        settings = configure?.Invoke(settings) ?? settings;
        var tokens = Sys.ActorOf(TokenActor.Props(settings), "tokens-" + Guid.NewGuid().ToString("N"));
        StatusOf(tokens); // loaded: its timers are set
        return tokens;
    }

    protected TokenStatus StatusOf(IActorRef tokens)
    {
        tokens.Tell(GetTokenStatus.Instance, TestActor);
        return ExpectMsg<TokenStatus>();
    }

    /// <summary>Waits until the actor has asked for <paramref name="count"/> refreshes (they start on the actor's thread, answers come back on the pool).</summary>
    protected void AwaitCalls(int count) => AwaitAssert(() => Assert.Equal(count, Refresher.Calls), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

    protected TestProbe Events<T>()
    {
        var probe = CreateTestProbe();
        Sys.EventStream.Subscribe(probe.Ref, typeof(T));
        return probe;
    }

    /// <summary>A store whose saves wait until the test releases them (or forever), and that records what it holds.</summary>
    protected sealed class HeldStore(TokenPair? initial = null) : ITokenStore
    {
        private readonly object _gate = new();
        private readonly List<TaskCompletionSource> _held = [];
        private readonly List<TokenPair> _saved = [];
        private TokenPair? _current = initial;
        private int _clears;

        /// <summary>When true, saves wait for <see cref="ReleaseSaves"/>.</summary>
        public bool HoldSaves { get; set; }

        public TokenPair? Current { get { lock (_gate) return _current; } }
        public IReadOnlyList<TokenPair> Saved { get { lock (_gate) return _saved.ToArray(); } }
        public int Clears { get { lock (_gate) return _clears; } }
        public int SavesStarted { get { lock (_gate) return _held.Count + _saved.Count; } }

        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) { lock (_gate) return Task.FromResult(_current); }

        public async Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken)
        {
            TaskCompletionSource? hold = null;
            lock (_gate)
            {
                if (HoldSaves)
                {
                    hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    _held.Add(hold);
                }
            }
            if (hold is not null) await hold.Task;
            lock (_gate)
            {
                if (hold is not null) _held.Remove(hold);
                _saved.Add(credentials);
                _current = credentials;
            }
        }

        public Task ClearAsync(CancellationToken cancellationToken)
        {
            lock (_gate)
            {
                _clears++;
                _current = null;
            }
            return Task.CompletedTask;
        }

        public void ReleaseSaves()
        {
            TaskCompletionSource[] held;
            lock (_gate) held = _held.ToArray();
            foreach (var h in held) h.TrySetResult();
        }
    }
}
