using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Requests;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests;

/// <summary>
/// A schedule explorer for the request path (RequestCoordinator + RequestActor): a seeded random generator interleaves
/// calls, answers of requests (success, retryable status, connection failure), cancellations, virtual time (deadlines,
/// attempt timeouts, retry delays, queue deadlines), late answers of abandoned attempts and the coordinator's stop, on
/// the TestScheduler with a scripted handler. After every step it checks:
/// <list type="bullet">
/// <item>the cap is never exceeded: requests the runtime still considers live (sent, not answered, not cancelled) never
/// outnumber <c>MaxConcurrentCalls</c>;</item>
/// <item>nothing is sent for a call after it was answered (cancelled, timed out, ended);</item>
/// <item>no call is answered twice; and once the coordinator has stopped, every call has been answered.</item>
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

        var answers = new Answers();
        var handler = new ExplorerHandler(options.MaxConcurrentCalls, answers);
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var runtime = new RequestRuntime(options, () => client, Sys.Log);
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
                var call = new HttpCall(HttpMethod.Get, new Uri($"https://explorer.test/calls/{calls.Count}"))
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
            else
            {
                Scheduler.Advance(TimeSpan.FromMilliseconds(random.Next(0, 1500)));
            }
            await SettleAsync(coordinator, stopped, handler, answers);
            if ((handler.Broken ?? answers.Broken) is { } broken) return $"step {step}: {broken}";
        }

        if (!stopped) await coordinator.GracefulStop(TimeSpan.FromSeconds(10));
        // Late answers of every request still held (abandoned attempts): they must change nothing.
        while (handler.AnswerOne(random))
        {
        }
        await SettleAsync(coordinator, stopped: true, handler, answers);
        if ((handler.Broken ?? answers.Broken) is { } late) return "after the stop: " + late;
        var unanswered = calls.Where(c => !answers.IsAnswered(c.Id)).Select(c => c.Id).ToList();
        return unanswered.Count > 0 ? $"the coordinator stopped and call(s) {string.Join(", ", unanswered)} were never answered" : null;
    }

    /// <summary>Waits until the actors have stopped moving: the counters stay the same over a few round trips.</summary>
    private static async Task SettleAsync(IActorRef coordinator, bool stopped, ExplorerHandler handler, Answers answers)
    {
        var last = (handler.Version, answers.Count);
        for (int i = 0, stable = 0; i < 500 && stable < 3; i++)
        {
            if (!stopped) await coordinator.Ask<ActorIdentity>(new Identify(null), TimeSpan.FromSeconds(5));
            await Task.Delay(1);
            var now = (handler.Version, answers.Count);
            stable = now == last ? stable + 1 : 0;
            last = now;
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
    private sealed class ExplorerHandler(int cap, Answers answers) : HttpMessageHandler
    {
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
            var outcome = random.Next(4);
            held.EndLive();
            Interlocked.Increment(ref _version);
            switch (outcome)
            {
                case 0: held.Answer.TrySetException(new HttpRequestException(HttpRequestError.ConnectionError, "refused")); break;
                case 1: held.Answer.TrySetResult(new HttpResponseMessage(HttpStatusCode.ServiceUnavailable)); break;
                default: held.Answer.TrySetResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ok") }); break;
            }
            return true;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var index = int.Parse(request.RequestUri!.Segments[^1]);
            var callId = _callIds[index];
            if (answers.IsAnswered(callId)) Broken ??= $"a request of call {callId} was sent after the call was answered";
            var live = Interlocked.Increment(ref _live);
            if (live > cap) Broken ??= $"{live} requests live at once with a cap of {cap}";
            var held = new Held(this, honoursCancellation: index % 2 == 0);
            lock (_gate) _held.Add(held);
            Interlocked.Increment(ref _version);
            await using var registration = cancellationToken.Register(() =>
            {
                held.EndLive(); // abandoned by the runtime: no longer counts against the cap
                Interlocked.Increment(ref _version);
                if (held.HonoursCancellation)
                {
                    lock (_gate) _held.Remove(held);
                    held.Answer.TrySetCanceled(cancellationToken);
                }
            });
            return await held.Answer.Task;
        }

        private sealed class Held(ExplorerHandler handler, bool honoursCancellation)
        {
            private int _ended;

            public TaskCompletionSource<HttpResponseMessage> Answer { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

            public bool HonoursCancellation => honoursCancellation;

            public void EndLive()
            {
                if (Interlocked.Exchange(ref _ended, 1) == 0) Interlocked.Decrement(ref handler._live);
            }
        }
    }
}
