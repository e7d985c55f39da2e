using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// A schedule explorer for the request path (RequestCoordinator + RequestActor): a seeded random generator interleaves
/// calls, answers of requests (success, retryable status, 429 with Retry-After that pauses the host, connection failure),
/// cancellations, virtual time (deadlines,
/// attempt timeouts, retry delays, queue deadlines), late answers of abandoned attempts and the coordinator's stop, on
/// the TestScheduler with a scripted handler. Calls carry tokens from a scripted TokenActor; the server refuses some
/// (401), and other nodes refresh now and then (the generation moves). After every step it checks:
/// <list type="bullet">
/// <item>the cap is never exceeded: requests the runtime still considers live (sent, not answered, not cancelled) never
/// outnumber <c>MaxConcurrentCalls</c> (a call waiting for its host gives its slot up, so only calls sending count);</item>
/// <item>the calls waiting stay bounded: calls the runtime holds (submitted, not answered) never outnumber
/// <c>MaxConcurrentCalls + MaxQueuedCalls</c> (the calls waiting without a slot, queued or for their host, are at most
/// <c>MaxQueuedCalls</c>);</item>
/// <item>nothing is sent for a call after it was answered (cancelled, timed out, ended);</item>
/// <item>no call is answered twice; and once the coordinator has stopped, every call has been answered;</item>
/// <item>a call never sends a token generation the server already refused for it, and never more than
/// <c>MaxRefreshesPerCall</c> times after a refusal (no refresh loop).</item>
/// </list>
/// It runs as many schedules as fit in its time budget. A failure prints its seed; <c>COURIER_EXPLORER_SEED=n</c> replays
/// that one schedule (the interleaving of the actors' threads is settled after every step, so a replay takes the same
/// decisions; <c>COURIER_EXPLORER_BUDGET_SECONDS</c> changes the budget).
/// </summary>
public sealed class RequestScheduleExplorerTests(ITestOutputHelper output)
    : TestKit(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""
akka.loglevel = ERROR
akka.log-dead-letters = off", output: null)
{
    private const int StepsPerSchedule = 40;

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    [Fact]
    public async Task Random_schedules_of_calls_answers_cancellations_timeouts_and_stops_keep_every_promise()
    {
        var replay = Environment.GetEnvironmentVariable("COURIER_EXPLORER_SEED");
        var budget = TimeSpan.FromSeconds(int.TryParse(Environment.GetEnvironmentVariable("COURIER_EXPLORER_BUDGET_SECONDS"), out var s) ? s : 6);
        var firstSeed = replay is not null ? int.Parse(replay) : Environment.TickCount & 0x7fffffff;
        var clock = Stopwatch.StartNew();
        var schedules = 0;
        do
        {
            var seed = firstSeed + schedules;
            var broken = await RunScheduleAsync(seed);
            if (broken is not null)
                Assert.Fail($"The schedule with seed {seed} broke a promise: {broken}\nReplay it: COURIER_EXPLORER_SEED={seed} dotnet test tests/Tests.csproj --filter FullyQualifiedName~RequestScheduleExplorerTests");
            schedules++;
        } while (replay is null && clock.Elapsed < budget);
        output.WriteLine($"{schedules} schedules of {StepsPerSchedule} steps from seed {firstSeed}: no promise broken.");
        Assert.True(schedules >= 1);
    }

    private async Task<string?> RunScheduleAsync(int seed)
    {
        var random = new Random(seed);
        var options = new HttpRuntimeOptions
        {
            MaxConcurrentCalls = random.Next(1, 4),
            MaxQueuedCalls = random.Next(0, 4),
            AttemptTimeout = TimeSpan.FromMilliseconds(random.Next(500, 4000)),
            CallDeadline = TimeSpan.FromMilliseconds(random.Next(1000, 10000)),
        };
        options.Retry.MaxRetries = random.Next(0, 3);
        options.Retry.Jitter = JitterMode.None;
        options.RetryBudget.Enabled = false;
        options.Auth = new TokenOptions();
        options.MaxRefreshesPerCall = random.Next(0, 4);
        // Per-host politeness: two hosts, with a window, a breaker and a learned rate in some schedules.
        options.Hosts.AdaptiveConcurrency = random.Next(2) == 0;
        options.Hosts.AdaptiveRate = random.Next(4) == 0;
        options.Hosts.CircuitBreakerFailures = random.Next(0, 3);
        options.Hosts.CircuitBreakDuration = TimeSpan.FromMilliseconds(random.Next(200, 3000));

        var answers = new Answers();
        var handler = new ExplorerHandler(options.MaxConcurrentCalls, options.MaxRefreshesPerCall, answers);
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var tokens = new TokenState();
        var tokenActor = Sys.ActorOf(Props.Create(() => new ExplorerTokens(tokens)));
        var runtime = new RequestRuntime(options, () => client, Sys.Log) { Tokens = tokenActor };
        var coordinator = Sys.ActorOf(RequestCoordinator.Props(runtime));
        var recorder = new Recorder(answers, ((IInternalActorRef)coordinator).Provider);
        var calls = new List<HttpCall>();
        var stopAt = random.Next(StepsPerSchedule / 2, StepsPerSchedule + 10); // past the last step: stopped at the end
        var stopped = false;

        for (var step = 0; step < StepsPerSchedule; step++)
        {
            if (step == stopAt)
            {
                await coordinator.GracefulStop(TimeSpan.FromSeconds(10));
                stopped = true;
            }
            var roll = random.Next(100);
            if (roll < 25 && !stopped)
            {
                var call = new HttpCall(HttpMethod.Get, new Uri($"https://{(calls.Count % 3 == 0 ? "other" : "explorer")}.test/calls/{calls.Count}"))
                {
                    Deadline = random.Next(3) == 0 ? TimeSpan.FromMilliseconds(random.Next(200, 6000)) : null,
                };
                handler.Register(calls.Count, call.Id);
                calls.Add(call);
                coordinator.Tell(new ExecuteCall(call), recorder);
            }
            else if (roll < 50)
            {
                handler.AnswerOne(random);
            }
            else if (roll < 60 && !stopped && calls.Count > 0)
            {
                coordinator.Tell(new CancelCall(calls[random.Next(calls.Count)].Id));
            }
            else if (roll < 65)
            {
                tokenActor.Tell(RefreshElsewhere.Instance); // another node refreshed: the generation moves on
            }
            else
            {
                Scheduler.Advance(TimeSpan.FromMilliseconds(random.Next(0, 1500)));
            }
            await SettleAsync(coordinator, stopped, handler, answers, tokens);
            if ((handler.Broken ?? answers.Broken) is { } broken) return $"step {step}: {broken}";
            var held = calls.Count(c => !answers.IsAnswered(c.Id));
            if (held > options.MaxConcurrentCalls + options.MaxQueuedCalls)
                return $"step {step}: {held} calls held at once with MaxConcurrentCalls {options.MaxConcurrentCalls} and MaxQueuedCalls {options.MaxQueuedCalls}";
        }

        if (!stopped) await coordinator.GracefulStop(TimeSpan.FromSeconds(10));
        // Late answers of every request still held (abandoned attempts): they must change nothing.
        while (handler.AnswerOne(random))
        {
        }
        await SettleAsync(coordinator, stopped: true, handler, answers, tokens);
        Sys.Stop(tokenActor);
        if ((handler.Broken ?? answers.Broken) is { } late) return "after the stop: " + late;
        var unanswered = calls.Where(c => !answers.IsAnswered(c.Id)).Select(c => c.Id).ToList();
        return unanswered.Count > 0 ? $"the coordinator stopped and call(s) {string.Join(", ", unanswered)} were never answered" : null;
    }

    /// <summary>Waits until the actors have stopped moving: the counters stay the same over a few round trips.</summary>
    private static async Task SettleAsync(IActorRef coordinator, bool stopped, ExplorerHandler handler, Answers answers, TokenState tokens)
    {
        var last = (handler.Version, answers.Count, tokens.Version);
        for (int i = 0, stable = 0; i < 500 && stable < 3; i++)
        {
            if (!stopped) await coordinator.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(5));
            await Task.Delay(1);
            var now = (handler.Version, answers.Count, tokens.Version);
            stable = now == last ? stable + 1 : 0;
            last = now;
        }
    }

    private sealed class TokenState
    {
        public long Current = 1;
        public int Version;
    }

    private sealed record RefreshElsewhere
    {
        public static readonly RefreshElsewhere Instance = new();
    }

    /// <summary>The TokenActor's protocol, scripted: a refusal of the current generation refreshes it, of an older one does not.</summary>
    private sealed class ExplorerTokens : ReceiveActor
    {
        public ExplorerTokens(TokenState state)
        {
            Receive<GetToken>(m => Grant(state, m.CallId));
            Receive<TokenRejected>(m =>
            {
                if (m.Generation >= state.Current) state.Current++;
                Grant(state, m.CallId);
            });
            Receive<RefreshElsewhere>(_ =>
            {
                state.Current++;
                Interlocked.Increment(ref state.Version);
            });
        }

        private void Grant(TokenState state, long callId)
        {
            Interlocked.Increment(ref state.Version);
            Sender.Tell(new TokenGranted(callId, "t" + state.Current, state.Current));
        }
    }

    /// <summary>Every answer the coordinator sent, by call id.</summary>
    private sealed class Answers
    {
        private readonly ConcurrentDictionary<long, int> _byCall = new();
        private int _count;

        public string? Broken { get; private set; }

        public int Count => Volatile.Read(ref _count);

        public bool IsAnswered(long callId) => _byCall.ContainsKey(callId);

        public void Record(CallResult result)
        {
            if (result is CallSucceeded ok) ok.Response.Dispose();
            Interlocked.Increment(ref _count);
            if (_byCall.AddOrUpdate(result.CallId, 1, (_, n) => n + 1) > 1) Broken ??= $"call {result.CallId} was answered twice ({result})";
        }
    }

    private sealed class Recorder(Answers answers, IActorRefProvider provider) : MinimalActorRef
    {
        public override ActorPath Path { get; } = provider.TempPath();

        public override IActorRefProvider Provider { get; } = provider;

        protected override void TellInternal(object message, IActorRef sender)
        {
            if (message is CallResult result) answers.Record(result);
        }
    }

    /// <summary>
    /// Holds every request until the explorer answers it. Half of them honour cancellation, half ignore it (their answer
    /// comes late, after the runtime abandoned them). A request is live from its arrival until it is answered or cancelled.
    /// </summary>
    private sealed class ExplorerHandler(int cap, int maxRefreshes, Answers answers) : HttpMessageHandler
    {
        private readonly ConcurrentDictionary<long, (long Refused, int Refusals)> _refusedByCall = new();
        private readonly object _gate = new();
        private readonly List<Held> _held = [];
        private readonly ConcurrentDictionary<int, long> _callIds = new();
        private int _live;
        private int _version;

        public string? Broken { get; private set; }

        public int Version => Volatile.Read(ref _version);

        public void Register(int index, long callId) => _callIds[index] = callId;

        /// <summary>Answers one held request (a random one, with a random outcome); false when none is held.</summary>
        public bool AnswerOne(Random random)
        {
            Held held;
            lock (_gate)
            {
                if (_held.Count == 0) return false;
                held = _held[random.Next(_held.Count)];
                _held.Remove(held);
            }
            var outcome = random.Next(6);
            var live = held.EndLive(); // false: the runtime abandoned it, and this answer comes late
            Interlocked.Increment(ref _version);
            switch (outcome)
            {
                case 0: held.Answer.TrySetException(new HttpRequestException(HttpRequestError.ConnectionError, "refused")); break;
                case 1: held.Answer.TrySetResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)); break;
                case 2:
                    // The server refuses the token: remembered (when the runtime still waits for this answer, so that it
                    // sees the refusal), so that a later request of the call can be checked.
                    if (live) _refusedByCall.AddOrUpdate(held.CallId, (held.Generation, 1), (_, r) => (Math.Max(r.Refused, held.Generation), r.Refusals + 1));
                    held.Answer.TrySetResult(new HttpResponseMessage(HttpStatusCode.Unauthorized));
                    break;
                case 3:
                    // The host throttles: it is paused for every call (0 to 2 s), and the call waits in its host's queue.
                    var throttled = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
                    throttled.Headers.RetryAfter = new System.Net.Http.Headers.RetryConditionHeaderValue(TimeSpan.FromSeconds(random.Next(3)));
                    held.Answer.TrySetResult(throttled);
                    break;
                default: held.Answer.TrySetResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ok") }); break;
            }
            return true;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var index = int.Parse(request.RequestUri!.Segments[^1]);
            var callId = _callIds[index];
            if (answers.IsAnswered(callId)) Broken ??= $"a request of call #{index} (id {callId}) was sent after the call was answered";
            var generation = long.Parse(request.Headers.Authorization!.Parameter!.TrimStart('t'));
            if (_refusedByCall.TryGetValue(callId, out var refused))
            {
                if (generation <= refused.Refused) Broken ??= $"call #{index} (id {callId}) sent generation {generation} again after the server refused generation {refused.Refused}";
                if (refused.Refusals > maxRefreshes) Broken ??= $"call #{index} (id {callId}) was sent again after {refused.Refusals} refusals (MaxRefreshesPerCall {maxRefreshes})";
            }
            var live = Interlocked.Increment(ref _live);
            if (live > cap) Broken ??= $"{live} requests live at once with a cap of {cap}";
            var held = new Held(this, callId, generation, honoursCancellation: index % 2 == 0);
            lock (_gate) _held.Add(held);
            Interlocked.Increment(ref _version);
            await using var registration = cancellationToken.Register(() =>
            {
                held.EndLive(); // abandoned by the runtime: no longer counts against the cap (the result is not needed)
                Interlocked.Increment(ref _version);
                if (held.HonoursCancellation)
                {
                    lock (_gate) _held.Remove(held);
                    held.Answer.TrySetCanceled(cancellationToken);
                }
            });
            return await held.Answer.Task;
        }

        private sealed class Held(ExplorerHandler handler, long callId, long generation, bool honoursCancellation)
        {
            public long CallId => callId;

            public long Generation => generation;

            private int _ended;

            public TaskCompletionSource<HttpResponseMessage> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public bool HonoursCancellation => honoursCancellation;

            /// <summary>Ends the request's live period; false when it had already ended.</summary>
            public bool EndLive()
            {
                if (Interlocked.Exchange(ref _ended, 1) != 0) return false;
                Interlocked.Decrement(ref handler._live);
                return true;
            }
        }
    }
}
