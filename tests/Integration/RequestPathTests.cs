using System.Net;
using Courier.Errors;
using Courier.Requests;
using Courier.Sandbox;
using Courier.Tests.Support;
using Xunit;

namespace Courier.Tests.Integration;

/// <summary>The request path against a real Kestrel server over loopback, with faults injected by the server.</summary>
public sealed class RequestPathTests(SandboxFixture sandbox) : IClassFixture<SandboxFixture>
{
    private static string NewKey() => "t-" + Guid.NewGuid().ToString("N");

    private HttpCall Get(string key, params (string Name, string Value)[] headers)
    {
        var call = HttpCall.Get(sandbox.Url("/api/items?secret=s3cr3t")).WithHeader(SandboxHeaders.Key, key);
        foreach (var (name, value) in headers) call = call.WithHeader(name, value);
        return call;
    }

    [Fact]
    public async Task Retries_recover_from_injected_503s()
    {
        await using var runtime = LoopbackRuntime.Start();
        var keys = Enumerable.Range(0, 20).Select(_ => NewKey()).ToArray();

        var responses = await Task.WhenAll(keys.Select(key =>
            runtime.Client.SendAsync(Get(key, (SandboxHeaders.FailFirst, "2"), (SandboxHeaders.RetryAfter, "0")))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.All(keys, key => Assert.Equal(3, sandbox.Server.Counters.For(key).Requests));
    }

    [Fact]
    public async Task Retries_recover_from_connections_cut_mid_response()
    {
        await using var runtime = LoopbackRuntime.Start();
        var key = NewKey();

        using var response = await runtime.Client.SendAsync(Get(key, (SandboxHeaders.AbortFirst, "2")));

        var body = await response.Content.ReadAsStringAsync();
        Assert.Contains("\"attempt\":3", body);
        Assert.Equal(3, sandbox.Server.Counters.For(key).Requests);
    }

    [Fact]
    public async Task Retries_give_up_with_a_typed_status_error()
    {
        await using var runtime = LoopbackRuntime.Start();
        var key = NewKey();

        var error = await Assert.ThrowsAsync<HttpStatusException>(() =>
            runtime.Client.SendAsync(Get(key, (SandboxHeaders.FailFirst, "10"), (SandboxHeaders.FaultStatus, "502"))));

        Assert.Equal(HttpStatusCode.BadGateway, error.StatusCode);
        Assert.Equal(3, error.Attempts);
        Assert.Contains("injected", error.ResponseBody);
        Assert.DoesNotContain("s3cr3t", error.Message);
        Assert.Equal(3, sandbox.Server.Counters.For(key).Requests);
    }

    [Fact]
    public async Task A_POST_cut_off_mid_response_is_sent_once_and_never_duplicated()
    {
        await using var runtime = LoopbackRuntime.Start();
        var key = NewKey();
        var call = HttpCall.PostJson(sandbox.Url("/api/payments"), new { amount = 10 })
            .WithHeader(SandboxHeaders.Key, key).WithHeader(SandboxHeaders.AbortFirst, "1");

        await Assert.ThrowsAsync<HttpTransportException>(() => runtime.Client.SendAsync(call));

        var counters = sandbox.Server.Counters.For(key);
        Assert.Equal(1, counters.Requests);
        Assert.Equal(1, counters.ByMethod["POST"]);
    }

    [Fact]
    public async Task A_POST_with_an_idempotency_key_is_retried_under_the_same_key()
    {
        await using var runtime = LoopbackRuntime.Start();
        var key = NewKey();
        var call = HttpCall.PostJson(sandbox.Url("/api/payments"), new { amount = 10 })
            .WithHeader(SandboxHeaders.Key, key).WithHeader(SandboxHeaders.AbortFirst, "1").WithHeader("Idempotency-Key", "pay-42");

        using var response = await runtime.Client.SendAsync(call);

        Assert.Contains("\"amount\\\":10", await response.Content.ReadAsStringAsync());
        var counters = sandbox.Server.Counters.For(key);
        Assert.Equal(2, counters.Requests);
        Assert.Equal(2, counters.ByIdempotencyKey["pay-42"]);
    }

    [Fact]
    public async Task A_hanging_server_hits_the_attempt_timeout_and_the_retry_succeeds()
    {
        await using var runtime = LoopbackRuntime.Start(o => o.AttemptTimeout = TimeSpan.FromMilliseconds(300));
        var key = NewKey();

        using var response = await runtime.Client.SendAsync(Get(key, (SandboxHeaders.HangFirst, "1")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(2, sandbox.Server.Counters.For(key).Requests);
    }

    [Fact]
    public async Task Cancelling_the_token_cancels_the_call_in_flight()
    {
        await using var runtime = LoopbackRuntime.Start();
        var key = NewKey();
        using var cts = new CancellationTokenSource();
        var call = runtime.Client.SendAsync(Get(key, (SandboxHeaders.HangFirst, "1")), cts.Token);
        await WaitUntil(() => sandbox.Server.Counters.For(key).InFlight == 1);

        cts.Cancel();

        var error = await Assert.ThrowsAsync<HttpCallCanceledException>(() => call);
        Assert.Equal(cts.Token, error.CancellationToken);
        await WaitUntil(() => sandbox.Server.Counters.For(key).InFlight == 0); // the server saw the connection go
        Assert.Equal(1, sandbox.Server.Counters.For(key).Requests);
    }

    [Fact]
    public async Task A_thousand_concurrent_calls_with_a_cap_of_64_all_complete_and_never_exceed_it()
    {
        await using var runtime = LoopbackRuntime.Start(o => o.MaxConcurrentCalls = 64);
        var key = NewKey();

        var responses = await Task.WhenAll(Enumerable.Range(0, 1000).Select(_ =>
            runtime.Client.SendAsync(Get(key, (SandboxHeaders.LatencyMs, "5")))));

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        foreach (var r in responses) r.Dispose();
        var counters = sandbox.Server.Counters.For(key);
        Assert.Equal(1000, counters.Requests);
        Assert.InRange(counters.MaxInFlight, 2, 64); // concurrent, and never past the cap
    }

    [Fact]
    public async Task A_full_queue_answers_at_once_with_a_clear_error()
    {
        await using var runtime = LoopbackRuntime.Start(o => { o.MaxConcurrentCalls = 2; o.MaxQueuedCalls = 3; });
        var key = NewKey();
        var calls = Enumerable.Range(0, 10).Select(_ => runtime.Client.SendAsync(Get(key, (SandboxHeaders.LatencyMs, "200")))).ToList();

        var outcomes = await Task.WhenAll(calls.Select(async c => { try { (await c).Dispose(); return "ok"; } catch (CallQueueFullException) { return "full"; } }));

        Assert.Equal(5, outcomes.Count(o => o == "ok"));
        Assert.Equal(5, outcomes.Count(o => o == "full"));
    }

    [Fact]
    public async Task A_refused_connection_is_a_typed_transport_error_after_retries()
    {
        await using var runtime = LoopbackRuntime.Start();
        // A port nothing listens on: bind, read the port, close.
        var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();

        var error = await Assert.ThrowsAsync<HttpTransportException>(() =>
            runtime.Client.SendAsync(new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/x") { Content = new StringContent("{}") }));

        Assert.Equal(3, error.Attempts); // refused before anything was sent: retried even for a POST
        Assert.Contains("connection failed", error.Message);
    }

    [Fact]
    public async Task Calls_in_flight_and_queued_when_the_runtime_stops_fail_instead_of_hanging()
    {
        using var capture = new Courier.Tests.Diagnostics.TelemetryCapture();
        using var queuedCalls = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(capture.MeterFactory,
            Courier.Diagnostics.HttpRuntimeMetrics.MeterName, "courier.http.queued_calls");
        var runtime = LoopbackRuntime.Start(o => o.MaxConcurrentCalls = 1, capture.InstallOn);
        var key = NewKey();
        var running = runtime.Client.SendAsync(Get(key, (SandboxHeaders.HangFirst, "5")));
        await WaitUntil(() => sandbox.Server.Counters.For(key).InFlight == 1);
        var queued = runtime.Client.SendAsync(Get(key, (SandboxHeaders.HangFirst, "5")));
        // Queued by the coordinator (not still in its mailbox, where a stop would send it to dead letters instead).
        await WaitUntil(() => queuedCalls.GetMeasurementSnapshot().Sum(m => m.Value) == 1);

        await runtime.DisposeAsync();

        var first = await Assert.ThrowsAsync<RuntimeUnavailableException>(() => running.WaitAsync(TimeSpan.FromSeconds(30)));
        var second = await Assert.ThrowsAsync<RuntimeUnavailableException>(() => queued.WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.True(first.Message.Contains("shutting down"), "the call in flight: " + first.Message);
        Assert.True(second.Message.Contains("before the call was sent"), "the queued call: " + second.Message);
    }

    [Fact]
    public async Task A_call_made_after_the_runtime_stopped_fails_at_once()
    {
        var runtime = LoopbackRuntime.Start();
        var client = runtime.Client;
        await runtime.DisposeAsync();

        var error = await Assert.ThrowsAsync<RuntimeUnavailableException>(() => client.SendAsync(Get(NewKey())).WaitAsync(TimeSpan.FromSeconds(30)));
        Assert.Contains("stopped", error.Message);
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        // Generous: at the start of the whole suite on 2 cores a first request can take seconds; only a failing run waits it out.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException("condition not met within 30 s");
            await Task.Yield();
            await Task.Delay(5);
        }
    }
}
