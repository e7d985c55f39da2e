using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using Akka.Actor;
using Akka.TestKit;
using Courier.Diagnostics;
using Courier.Errors;
using Courier.Tests.Diagnostics;
using Courier.Requests;
using Courier.Requests.Hosts;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Requests.Hosts;

/// <summary>
/// The per-host gate seen through the request coordinator, on the TestScheduler: a host's pause, its AIMD window and its
/// circuit breaker decide when its calls are sent, and never hold up another host; throttled retries spend no budget.
/// </summary>
public sealed class HostGateTests(ITestOutputHelper output) : CoordinatorTestKit(output)
{
    private static readonly Uri A = new("https://a.example.test/");
    private static readonly Uri B = new("https://b.example.test/");

    private readonly ConcurrentDictionary<string, TaskCompletionSource<HttpResponseMessage>> _answers = new();

    private (IActorRef Coordinator, RequestRuntime Runtime) Start(Action<HttpRuntimeOptions>? configure = null, CourierTelemetry? telemetry = null)
    {
        var runtime = Runtime(configure, telemetry: telemetry);
        return (Sys.ActorOf(RequestCoordinator.Props(runtime)), runtime);
    }

    /// <summary>Waits until the coordinator's <paramref name="count"/> call actors have started (their PreStart has run).</summary>
    private void SyncChildren(IActorRef coordinator, int count)
    {
        Sync(coordinator); // it has spawned them
        Sys.ActorSelection(coordinator.Path / "*").Tell(new Identify(null), TestActor);
        for (var i = 0; i < count; i++) Assert.NotNull(ExpectMsg<ActorIdentity>().Subject);
    }

    /// <summary>Two calls succeed, in either order: <paramref name="retried"/> at its second attempt, <paramref name="waited"/> at its first.</summary>
    private void ExpectBothSucceeded(HttpCall retried, HttpCall waited)
    {
        var results = new[] { ExpectMsg<CallSucceeded>(), ExpectMsg<CallSucceeded>() }.ToDictionary(r => r.CallId, r => r.Attempts);
        Assert.Equal(2, results[retried.Id]);
        Assert.Equal(1, results[waited.Id]);
    }

    /// <summary>
    /// Three times: the call's request to A, the retry A's 2 s pause schedules, the clock past the pause once the retry
    /// waits at the gate; then the fourth request to A.
    /// </summary>
    private void ThroughThreePausesOfA(IActorRef coordinator)
    {
        for (var i = 0; i < 3; i++)
        {
            ExpectRequest(A);
            ExpectMsg<RetryScheduled>();
            Sync(coordinator); // the retry's permit request has reached the gate (it waits for the pause)
            Scheduler.Advance(TimeSpan.FromSeconds(2));
        }
        ExpectRequest(A);
    }

    private static void TooMany(HttpResponseMessage response) => response.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(2));

    /// <summary>Requests to a path listed in <see cref="_answers"/> wait for the test to answer them.</summary>
    private void HoldListedPaths() => Handler.Default = (request, _) =>
        _answers.TryGetValue(request.RequestUri!.AbsolutePath, out var answer) ? answer.Task : Task.FromResult(ScriptedHandler.Ok());

    private HttpCall Held(Uri host, string path)
    {
        _answers[path] = new TaskCompletionSource<HttpResponseMessage>(TaskCreationOptions.RunContinuationsAsynchronously);
        return HttpCall.Get(new Uri(host, path));
    }

    private void Answer(string path, HttpStatusCode status) => _answers[path].SetResult(new HttpResponseMessage(status) { Content = new StringContent("{}") });

    private SeenRequest ExpectRequest(Uri host) =>
        Seen.ExpectMsg<SeenRequest>(r => Assert.Equal(host.Host, r.Uri.Host), TimeSpan.FromSeconds(5));

    [Fact]
    public void A_429_with_Retry_After_pauses_every_call_to_that_host_until_the_time_it_named_and_no_other_host()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, _) = Start();
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, TooMany);
        var first = HttpCall.Get(new Uri(A, "/1"));
        coordinator.Tell(new ExecuteCall(first));
        ExpectRequest(A);
        var retry = ExpectMsg<RetryScheduled>();
        Assert.Equal(TimeSpan.FromSeconds(2), retry.Delay);

        // Host A is paused: a new call to it waits; a call to B goes at once.
        var second = HttpCall.Get(new Uri(A, "/2"));
        var other = HttpCall.Get(new Uri(B, "/3"));
        coordinator.Tell(new ExecuteCall(second));
        coordinator.Tell(new ExecuteCall(other));
        ExpectRequest(B);
        Assert.Equal(other.Id, ExpectMsg<CallSucceeded>().CallId);
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        Scheduler.Advance(TimeSpan.FromMilliseconds(1999));
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // At the time the host named, the retry of the first call and the waiting call go, in their order.
        Scheduler.Advance(TimeSpan.FromMilliseconds(1));
        var sent = new[] { ExpectRequest(A), ExpectRequest(A) };
        Assert.Equal(["/1", "/2"], sent.Select(r => r.Uri.AbsolutePath).OrderBy(p => p));
        Assert.All(sent, r => Assert.Equal(sent[0].At, r.At));
        ExpectBothSucceeded(retried: first, waited: second);
    }

    [Fact]
    public void Calls_waiting_for_a_paused_host_give_their_global_slot_up_and_take_one_again_before_they_are_sent()
    {
        // Issue 10: with MaxConcurrentCalls = 2, two calls waiting for a paused host A held both slots, so a call to B
        // waited for A's pause. A call waiting in its host's queue does not count against the cap; it is sent only when
        // it has a slot again, so never more than 2 calls are sending.
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, _) = Start(o => o.MaxConcurrentCalls = 2);
        HoldListedPaths();
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, TooMany);
        var first = Held(A, "/1");
        coordinator.Tell(new ExecuteCall(first));
        Assert.Equal("/1", ExpectRequest(A).Uri.AbsolutePath);
        ExpectMsg<RetryScheduled>(); // A is paused for 2 s; the first call waits in A's queue
        var second = Held(A, "/2");
        coordinator.Tell(new ExecuteCall(second));
        Sync(coordinator);

        // Both slots' calls wait for A: a call to B is sent at once.
        var other = Held(B, "/b");
        coordinator.Tell(new ExecuteCall(other));
        Assert.Equal("/b", ExpectRequest(B).Uri.AbsolutePath);

        // A's pause ends while B's call is still sending: one slot is free, so one call to A goes, not two.
        Scheduler.Advance(TimeSpan.FromSeconds(2));
        var sentFirst = ExpectRequest(A).Uri.AbsolutePath;
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // B's call ends: its slot goes to the other call waiting for A.
        Answer("/b", HttpStatusCode.OK);
        Assert.Equal(other.Id, ExpectMsg<CallSucceeded>().CallId);
        var sentSecond = ExpectRequest(A).Uri.AbsolutePath;
        Assert.Equal(["/1", "/2"], new[] { sentFirst, sentSecond }.OrderBy(p => p));
        Answer("/1", HttpStatusCode.OK);
        Answer("/2", HttpStatusCode.OK);
        ExpectBothSucceeded(retried: first, waited: second);
    }

    [Fact]
    public void Calls_waiting_for_their_host_without_a_slot_are_bounded_by_MaxQueuedCalls()
    {
        // With no room to wait without a slot (MaxQueuedCalls = 0), a call waiting for its host keeps its slot, as before.
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, _) = Start(o =>
        {
            o.MaxConcurrentCalls = 1;
            o.MaxQueuedCalls = 0;
        });
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, TooMany);
        var first = HttpCall.Get(new Uri(A, "/1"));
        coordinator.Tell(new ExecuteCall(first));
        ExpectRequest(A);
        ExpectMsg<RetryScheduled>();
        var other = HttpCall.Get(new Uri(B, "/b"));
        coordinator.Tell(new ExecuteCall(other));
        var refused = ExpectMsg<CallFailed>();
        Assert.Equal(other.Id, refused.CallId);
        Assert.IsType<CallQueueFullException>(refused.Error);
        Scheduler.Advance(TimeSpan.FromSeconds(2));
        ExpectRequest(A);
        Assert.Equal(first.Id, ExpectMsg<CallSucceeded>().CallId);
    }

    [Fact]
    public void Throttled_retries_spend_neither_the_retry_budget_nor_MaxRetries_and_are_bounded_by_the_deadline()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        // A budget with room for exactly one retry of a failure, and no retries at all by count.
        var (coordinator, _) = Start(o =>
        {
            o.Retry.MaxRetries = 0;
            o.RetryBudget.Capacity = 5;
            o.RetryBudget.RetryCost = 5;
            o.CallDeadline = TimeSpan.FromSeconds(7);
        });
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, TooMany)
            .ThenStatus(HttpStatusCode.ServiceUnavailable, TooMany)
            .ThenStatus(HttpStatusCode.TooManyRequests, TooMany);
        var call = HttpCall.Get(new Uri(A, "/1"));
        coordinator.Tell(new ExecuteCall(call));
        ThroughThreePausesOfA(coordinator);
        Assert.Equal(4, ExpectMsg<CallSucceeded>().Attempts);

        // The budget is whole: another call's failure is still retried once.
        Handler.ThenStatus(HttpStatusCode.InternalServerError);
        var failing = HttpCall.Get(new Uri(B, "/2")) with { MaxRetries = 1 };
        coordinator.Tell(new ExecuteCall(failing));
        ExpectRequest(B);
        ExpectMsg<RetryScheduled>();
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        ExpectRequest(B);
        Assert.Equal(2, ExpectMsg<CallSucceeded>().Attempts);

        // A host that keeps throttling holds the call until its deadline, not for ever.
        Handler.Default = (_, _) =>
        {
            var response = new HttpResponseMessage(HttpStatusCode.TooManyRequests);
            TooMany(response);
            return Task.FromResult(response);
        };
        var throttled = HttpCall.Get(new Uri(A, "/3"));
        coordinator.Tell(new ExecuteCall(throttled));
        ThroughThreePausesOfA(coordinator);
        var failed = ExpectMsg<CallFailed>();
        var timeout = Assert.IsType<HttpCallTimeoutException>(failed.Error);
        Assert.Equal(TimeoutKind.Deadline, timeout.Kind);
        Assert.Equal(4, failed.Attempts);
    }

    [Fact]
    public void The_adaptive_window_is_cut_once_per_window_on_failures_and_grows_on_success_as_seen_by_the_calls_it_admits()
    {
        HoldListedPaths();
        var (coordinator, runtime) = Start(o =>
        {
            o.Retry.MaxRetries = 0;
            o.Hosts.AdaptiveConcurrency = true;
            o.Hosts.MaxConcurrencyPerHost = 4;
            o.Hosts.BackoffRatio = 0.5;
        });
        var calls = Enumerable.Range(1, 6).Select(i => Held(A, "/" + i)).ToList();
        foreach (var call in calls) coordinator.Tell(new ExecuteCall(call));
        // The calls ask for their permits in the order their actors start: note which four went.
        var sent = Enumerable.Range(0, 4).Select(_ => ExpectRequest(A).Uri.AbsolutePath).ToList();
        var waiting = calls.Select(c => c.Uri.AbsolutePath).Except(sent).Order().ToList();
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // the window is 4

        Answer(sent[0], HttpStatusCode.InternalServerError);
        ExpectMsg<CallFailed>();
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // cut to 2, with 3 in flight
        Assert.Equal(2, runtime.Hosts.Snapshot(HostKey.From(A))!.Limit);

        Answer(sent[1], HttpStatusCode.InternalServerError);
        ExpectMsg<CallFailed>();
        Sync(coordinator);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // sent under the old window: no second cut; 2 in flight, window 2
        Assert.Equal(2, runtime.Hosts.Snapshot(HostKey.From(A))!.Limit);

        Answer(sent[2], HttpStatusCode.OK);
        ExpectMsg<CallSucceeded>();
        // A success with the window in use adds one: 3, with 1 in flight, so both waiting calls go.
        Assert.Equal(waiting, new[] { ExpectRequest(A), ExpectRequest(A) }.Select(r => r.Uri.AbsolutePath).Order());
        Sync(coordinator);
        Assert.Equal(3, runtime.Hosts.Snapshot(HostKey.From(A))!.Limit);
        foreach (var path in waiting.Append(sent[3])) Answer(path, HttpStatusCode.OK);
        for (var i = 0; i < 3; i++) ExpectMsg<CallSucceeded>();
    }

    [Fact]
    public void An_open_circuit_fails_calls_fast_naming_the_host_until_a_half_open_probe_succeeds()
    {
        HoldListedPaths();
        var (coordinator, _) = Start(o =>
        {
            o.Retry.MaxRetries = 0;
            o.Hosts.CircuitBreakerFailures = 2;
            o.Hosts.CircuitBreakDuration = TimeSpan.FromSeconds(5);
        });
        Handler.ThenStatus(HttpStatusCode.InternalServerError).ThenStatus(HttpStatusCode.BadGateway);
        for (var i = 0; i < 2; i++)
        {
            coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/fail" + i))));
            ExpectRequest(A);
            Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        }

        // Open: not sent, a typed error naming the host; the retry budget and other hosts are untouched.
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/fast"))));
        var fast = ExpectMsg<CallFailed>();
        var open = Assert.IsType<CircuitOpenException>(fast.Error);
        Assert.Equal("https://a.example.test:443", open.Host);
        Assert.Contains("https://a.example.test:443", open.Message);
        Assert.Equal(HttpCallFailure.CircuitOpen, open.Failure);
        Assert.Equal(0, fast.Attempts);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(B, "/other"))));
        ExpectRequest(B);
        ExpectMsg<CallSucceeded>();

        // After the break: one probe goes; while it runs, other calls still fail fast.
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        var probe = Held(A, "/probe");
        coordinator.Tell(new ExecuteCall(probe));
        ExpectRequest(A);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/during"))));
        Assert.IsType<CircuitOpenException>(ExpectMsg<CallFailed>().Error);

        // The probe succeeds: closed, calls go again.
        Answer("/probe", HttpStatusCode.OK);
        Assert.Equal(probe.Id, ExpectMsg<CallSucceeded>().CallId);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/after"))));
        ExpectRequest(A);
        ExpectMsg<CallSucceeded>();
    }

    [Fact]
    public void A_failed_probe_opens_the_circuit_for_another_break()
    {
        var (coordinator, _) = Start(o =>
        {
            o.Retry.MaxRetries = 0;
            o.Hosts.CircuitBreakerFailures = 1;
            o.Hosts.CircuitBreakDuration = TimeSpan.FromSeconds(5);
        });
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable).ThenThrow(new HttpRequestException(HttpRequestError.ConnectionError, "refused"));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/1"))));
        ExpectRequest(A);
        ExpectMsg<CallFailed>();
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/probe"))));
        ExpectRequest(A);
        Assert.IsType<HttpTransportException>(ExpectMsg<CallFailed>().Error);

        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/2"))));
        Assert.IsType<CircuitOpenException>(ExpectMsg<CallFailed>().Error);
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/3"))));
        ExpectRequest(A);
        ExpectMsg<CallSucceeded>();
    }

    [Fact]
    public void A_call_waiting_for_a_paused_host_is_answered_at_its_deadline_and_gives_its_place_up()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, runtime) = Start(o => o.Retry.MaxRetryAfter = TimeSpan.FromSeconds(30));
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, r => r.Headers.RetryAfter = new RetryConditionHeaderValue(TimeSpan.FromSeconds(20)));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/1")) with { Deadline = TimeSpan.FromSeconds(30) }));
        ExpectRequest(A);
        ExpectMsg<RetryScheduled>();

        var waiting = HttpCall.Get(new Uri(A, "/2")) with { Deadline = TimeSpan.FromSeconds(3) };
        coordinator.Tell(new ExecuteCall(waiting));
        // The waiting call's deadline is a timer its own actor sets as it starts: wait for both calls' actors to have
        // started (an Identify is read after PreStart) before time moves, or the timer is set after the Advance.
        SyncChildren(coordinator, 2);
        Scheduler.Advance(TimeSpan.FromSeconds(3));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(waiting.Id, failed.CallId);
        Assert.Equal(TimeoutKind.Deadline, Assert.IsType<HttpCallTimeoutException>(failed.Error).Kind);
        Assert.Equal(0, failed.Attempts);

        Scheduler.Advance(TimeSpan.FromSeconds(17));
        ExpectRequest(A);
        Assert.Equal(2, ExpectMsg<CallSucceeded>().Attempts);
        Sync(coordinator);
        Assert.Equal(0, runtime.Hosts.Snapshot(HostKey.From(A))!.InFlight);
    }

    // Issue 10: the host's state as metrics, one series per host (server.address, server.port), nothing per call.
    [Fact]
    public void Host_state_is_measured_per_host_pauses_paused_time_window_waiting_calls_and_circuit_transitions()
    {
        using var capture = new TelemetryCapture();
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, _) = Start(o =>
        {
            o.Retry.MaxRetries = 0;
            o.Hosts.AdaptiveConcurrency = true;
            o.Hosts.CircuitBreakerFailures = 1;
            o.Hosts.CircuitBreakDuration = TimeSpan.FromSeconds(5);
        }, CourierTelemetry.Install(Sys, capture.MeterFactory, null));

        // A 429 with Retry-After: 2 s pauses A (one pause, 2 s) and cuts its window; a second call waits for A meanwhile.
        Handler.ThenStatus(HttpStatusCode.TooManyRequests, TooMany);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/1"))));
        ExpectRequest(A);
        ExpectMsg<RetryScheduled>();
        Sync(coordinator);
        var tagsOfA = new[] { new KeyValuePair<string, object?>("server.address", "a.example.test"), new KeyValuePair<string, object?>("server.port", 443) };
        Assert.Equal(1, Sum(capture, "courier.host.pauses"));
        Assert.Equal(2.0, Sum(capture, "courier.host.paused_time"), precision: 3);
        Assert.Equal(1, Sum(capture, "courier.host.waiting_calls")); // the throttled call, back in A's queue
        var limit = Assert.Single(capture.Measurements, m => m.Instrument == "courier.host.limit");
        Assert.Equal(Math.Floor(new HttpRuntimeOptions().MaxConcurrentCalls * 0.9), limit.Value); // the cap, cut by BackoffRatio
        Assert.All(capture.Measurements.Where(m => m.Instrument.StartsWith("courier.host.", StringComparison.Ordinal)),
            m => Assert.Equal(tagsOfA, m.Tags.Where(t => t.Key.StartsWith("server.", StringComparison.Ordinal)).OrderBy(t => t.Key)));

        Scheduler.Advance(TimeSpan.FromSeconds(2));
        ExpectRequest(A);
        ExpectMsg<CallSucceeded>();
        Sync(coordinator);
        Assert.Equal(0, Sum(capture, "courier.host.waiting_calls"));

        // A failure opens A's circuit; after the break a probe goes (half-open) and its success closes it.
        Handler.ThenStatus(HttpStatusCode.InternalServerError);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/fail"))));
        ExpectRequest(A);
        ExpectMsg<CallFailed>();
        Scheduler.Advance(TimeSpan.FromSeconds(5));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/probe"))));
        ExpectRequest(A);
        ExpectMsg<CallSucceeded>();
        Sync(coordinator);
        var transitions = capture.Measurements.Where(m => m.Instrument == "courier.host.circuit.transitions")
            .Select(m => (string)m.Tag("courier.circuit.state")!).ToList();
        Assert.Equal(["open", "half_open", "closed"], transitions);
    }

    private static double Sum(TelemetryCapture capture, string name) =>
        capture.Measurements.Where(m => m.Instrument == name).Sum(m => m.Value);

    [Fact]
    public void AddIdempotencyKeys_gives_a_POST_one_key_for_all_its_attempts_and_lets_it_be_retried()
    {
        Sys.EventStream.Subscribe(TestActor, typeof(RetryScheduled));
        var (coordinator, _) = Start(o => o.Retry.AddIdempotencyKeys = true);
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        var post = new HttpCall(HttpMethod.Post, new Uri(A, "/orders")) { Body = RequestBody.Json(new { sku = "A7" }) };
        coordinator.Tell(new ExecuteCall(post));
        var first = ExpectRequest(A);
        ExpectMsg<RetryScheduled>();
        Scheduler.Advance(TimeSpan.FromMilliseconds(100));
        var second = ExpectRequest(A);
        var result = ExpectMsg<CallSucceeded>();
        Assert.Equal(post.Id, result.CallId);
        Assert.Equal(2, result.Attempts);
        var key = first.Headers["Idempotency-Key"];
        Assert.True(Guid.TryParse(key, out _));
        Assert.Equal(key, second.Headers["Idempotency-Key"]);

        // Another call gets another key; a caller's own key is kept; a GET gets none.
        coordinator.Tell(new ExecuteCall(post with { }));
        Assert.NotEqual(key, ExpectRequest(A).Headers["Idempotency-Key"]);
        ExpectMsg<CallSucceeded>();
        coordinator.Tell(new ExecuteCall(post.WithHeader("Idempotency-Key", "mine")));
        Assert.Equal("mine", ExpectRequest(A).Headers["Idempotency-Key"]);
        ExpectMsg<CallSucceeded>();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(new Uri(A, "/get"))));
        Assert.False(ExpectRequest(A).Headers.ContainsKey("Idempotency-Key"));
        ExpectMsg<CallSucceeded>();
    }

    [Fact]
    public void Without_AddIdempotencyKeys_a_POST_that_reached_the_server_is_not_retried()
    {
        var (coordinator, _) = Start();
        Handler.ThenStatus(HttpStatusCode.ServiceUnavailable);
        coordinator.Tell(new ExecuteCall(new HttpCall(HttpMethod.Post, new Uri(A, "/orders")) { Body = RequestBody.Json(new { sku = "A7" }) }));
        Assert.False(ExpectRequest(A).Headers.ContainsKey("Idempotency-Key"));
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(1, failed.Attempts);
        Assert.Contains("not retried", failed.Error.Message);
    }
}
