using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using Courier.Auth;
using Courier.Diagnostics;
using Courier.Requests;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Courier.Tests.Diagnostics;

/// <summary>
/// What the runtime emits for real calls over loopback: spans in the caller's trace across the actor boundary, the
/// <c>traceparent</c> the server sees, the refresh span and its links, the histograms, the logs, and no secret anywhere.
/// One class: its tests share the process-wide activity listener, and run one at a time.
/// </summary>
public sealed class TracingTests
{
    private const string OldToken = "OLDTOKEN-s3cr3t";
    private const string NewToken = "NEWTOKEN-s3cr3t";
    private const string RefreshToken = "REFRESH-s3cr3t";
    private const string QueryValue = "QUERYVALUE-s3cr3t";
    private const string RequestBody = "REQUESTBODY-s3cr3t";
    private const string ErrorBody = "ERRORBODY-s3cr3t";
    private const string ResponseBody = "RESPONSEBODY-s3cr3t";
    private static readonly string[] Secrets = [OldToken, NewToken, RefreshToken, QueryValue, RequestBody, ErrorBody, ResponseBody, "s3cr3t"];

    [Fact]
    public async Task A_call_with_two_retries_and_a_refresh_is_one_tree_in_the_callers_trace_and_every_attempt_carries_it_downstream()
    {
        using var capture = new TelemetryCapture();
        await using var server = await ScriptedServer.StartAsync(number => number switch
        {
            1 or 2 => (503, ErrorBody),
            3 => (401, ErrorBody),
            _ => (0, ResponseBody), // 0: 200 with the new token, 401 otherwise
        });
        var refresher = new ControlledRefresher { AutoAnswer = _ => ControlledRefresher.Refreshed(NewToken, RefreshToken + "-2") };
        await using var runtime = Start(capture, refresher);

        var caller = new Activity("test-caller").Start();
        var call = new HttpCall(HttpMethod.Put, new Uri(server.BaseAddress, $"/things/1?key={QueryValue}&flag"))
        {
            Body = Courier.Requests.RequestBody.Json(new { value = RequestBody }),
        };
        caller.Stop(); // the call keeps the context it was created under, wherever it is sent from
        Assert.Null(Activity.Current);

        var result = await runtime.Client.ExecuteAsync(call);

        var ok = Assert.IsType<CallSucceeded>(result);
        Assert.Equal(ResponseBody, await ok.Response.Content.ReadAsStringAsync());
        ok.Response.Dispose();
        Assert.Equal(4, ok.Attempts);

        var trace = await SpansAsync(capture, caller.TraceId, count: 9);
        var callSpan = Assert.Single(trace, s => s.OperationName == CourierActivities.CallOperation);
        Assert.Equal(caller.SpanId, callSpan.ParentSpanId);
        Assert.Equal(ActivityKind.Client, callSpan.Kind);
        Assert.Equal("PUT", callSpan.GetTagItem("http.request.method"));
        Assert.Equal("127.0.0.1", callSpan.GetTagItem("server.address"));
        Assert.Equal($"{server.BaseAddress.Scheme}://127.0.0.1:{server.BaseAddress.Port}/things/1?key=***&flag", callSpan.GetTagItem("url.full"));
        Assert.Equal(4, callSpan.GetTagItem("courier.call.attempts"));
        Assert.Equal(200, callSpan.GetTagItem("http.response.status_code"));

        var attempts = trace.Where(s => s.OperationName == CourierActivities.AttemptOperation).OrderBy(s => s.StartTimeUtc).ToList();
        Assert.Equal(4, attempts.Count);
        Assert.All(attempts, a => Assert.Equal(callSpan.SpanId, a.ParentSpanId));
        Assert.All(attempts, a => Assert.Equal("PUT", a.DisplayName));
        Assert.Equal([503, 503, 401, 200], attempts.Select(a => (int)a.GetTagItem("http.response.status_code")!));
        Assert.Equal([null, 1, 2, 3], attempts.Select(a => a.GetTagItem("http.request.resend_count")));
        Assert.Equal(["503", "503", "401", null], attempts.Select(a => a.GetTagItem("error.type") as string));
        Assert.All(attempts, a => Assert.Equal(server.BaseAddress.Port, a.GetTagItem("server.port")));

        var events = callSpan.Events.Select(e => e.Name).ToList();
        Assert.Equal(2, events.Count(e => e == CourierActivities.Events.Retry));
        var tokenWait = Assert.Single(callSpan.Events, e => e.Name == CourierActivities.Events.TokenWait
            && e.Tags.Any(t => t is { Key: "courier.token.request", Value: "rejected" }));
        Assert.Contains(tokenWait.Tags, t => t is { Key: "courier.token.generation", Value: 2L });
        var retry = callSpan.Events.First(e => e.Name == CourierActivities.Events.Retry);
        Assert.Contains(retry.Tags, t => t.Key == "courier.retry.delay_ms");
        Assert.Contains(retry.Tags, t => t is { Key: "courier.reason", Value: "503 Service Unavailable" });

        // The refresh is a span of its own, linked to the call that waited for it.
        var refreshes = capture.Stopped.Where(s => s.OperationName == CourierActivities.RefreshOperation && s.Links.Any(l => l.Context.TraceId == caller.TraceId)).ToList();
        Assert.True(refreshes.Count == 1, string.Join("\n", refreshes.Select(r => $"{r.SpanId} {r.StartTimeUtc:HH:mm:ss.fff} {r.Duration} "
            + string.Join(",", r.TagObjects.Select(t => t.Key + "=" + t.Value)) + " links " + string.Join(",", r.Links.Select(l => l.Context.TraceId + "/" + l.Context.SpanId + " " + string.Join(";", (l.Tags ?? []).Select(t => t.Value))))))
            + $"\ncall {callSpan.SpanId} id {callSpan.GetTagItem("courier.call.id")}");
        var refresh = refreshes[0];
        Assert.Equal(callSpan.Context.SpanId, Assert.Single(refresh.Links).Context.SpanId);
        Assert.Equal("refreshed", refresh.GetTagItem("courier.outcome"));
        Assert.Equal("rejected", refresh.GetTagItem("courier.refresh.trigger"));

        // What the server saw: every attempt's traceparent is in the caller's trace, and names that attempt's span.
        var parents = server.TraceParents.ToList();
        Assert.Equal(4, parents.Count);
        Assert.All(parents, p => Assert.Equal(caller.TraceId.ToHexString(), p.Split('-')[1]));
        // HttpClient's own span (System.Net.Http) is what the header names, and it is a child of the attempt's span.
        var httpSpans = parents.Select(p => Assert.Single(trace, s => s.SpanId.ToHexString() == p.Split('-')[2])).ToList();
        Assert.All(httpSpans, s => Assert.Equal("System.Net.Http", s.Source.Name));
        Assert.Equal(attempts.Select(a => a.SpanId), httpSpans.Select(s => s.ParentSpanId));

        AssertNoSecret(capture, trace.Append(refresh));
    }

    [Fact]
    public async Task The_traceparent_carries_the_callers_trace_even_when_nobody_records_the_runtimes_spans()
    {
        await using var server = await ScriptedServer.StartAsync(number => number == 1 ? (503, ErrorBody) : (200, ResponseBody));
        await using var runtime = LoopbackRuntime.Start();

        var caller = new Activity("test-caller").SetIdFormat(ActivityIdFormat.W3C).Start();
        var call = HttpCall.Get(new Uri(server.BaseAddress, "/plain"));
        caller.Stop();
        var result = await runtime.Client.ExecuteAsync(call);

        (result as CallSucceeded)?.Response.Dispose();
        Assert.IsType<CallSucceeded>(result);
        Assert.Equal(2, server.TraceParents.Count);
        Assert.All(server.TraceParents, p => Assert.Equal(caller.TraceId.ToHexString(), p.Split('-')[1]));
    }

    [Fact]
    public async Task A_hundred_calls_refused_at_once_are_linked_to_one_refresh_span()
    {
        using var capture = new TelemetryCapture();
        await using var server = await ScriptedServer.StartAsync(_ => (0, ResponseBody));
        var refresher = new ControlledRefresher();
        await using var runtime = Start(capture, refresher);

        var caller = new Activity("test-caller").Start();
        var calls = Enumerable.Range(0, 100).Select(i => HttpCall.Get(new Uri(server.BaseAddress, $"/storm/{i}?key={QueryValue}"))).ToList();
        caller.Stop();
        var results = calls.Select(c => runtime.Client.ExecuteAsync(c)).ToList();

        // All 100 were refused with the old token and wait for the one refresh.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while ((await runtime.Client.GetTokenStatusAsync()).Waiting < 100)
        {
            Assert.True(DateTime.UtcNow < deadline, "the 100 calls did not all wait for the refresh");
            await Task.Delay(5);
        }
        // A token request with one of these calls' ids that does not come from the actor running it links nothing.
        runtime.Actors.Tokens!.Tell(new GetToken(calls[0].Id), ActorRefs.NoSender);
        while ((await runtime.Client.GetTokenStatusAsync()).Waiting < 101)
        {
            Assert.True(DateTime.UtcNow < deadline, "the stray token request was not stashed");
            await Task.Delay(5);
        }
        refresher.Answer(ControlledRefresher.Refreshed(NewToken));
        foreach (var result in await Task.WhenAll(results))
        {
            var ok = Assert.IsType<CallSucceeded>(result);
            ok.Response.Dispose();
        }

        Assert.Equal(1, refresher.Calls);
        var trace = await SpansAsync(capture, caller.TraceId, count: 100 * 3);
        var callSpans = trace.Where(s => s.OperationName == CourierActivities.CallOperation).ToList();
        Assert.Equal(100, callSpans.Count);
        var refresh = Assert.Single(capture.Stopped, s => s.OperationName == CourierActivities.RefreshOperation && s.Links.Any(l => l.Context.TraceId == caller.TraceId));
        Assert.Equal(100, refresh.Links.Count());
        Assert.Equal(callSpans.Select(s => s.SpanId.ToHexString()).Order(), refresh.Links.Select(l => l.Context.SpanId.ToHexString()).Order());
        Assert.Equal(101, refresh.GetTagItem("courier.refresh.waiting"));
        Assert.NotEqual(caller.TraceId, refresh.TraceId); // its own trace: it serves all of them alike

        var durations = capture.Measurements.Where(m => m.Instrument == "courier.token.refresh.duration").ToList();
        Assert.Equal("refreshed", Assert.Single(durations).Tag("courier.outcome"));
        AssertNoSecret(capture, trace.Append(refresh));
    }

    [Fact]
    public async Task The_histograms_and_logs_record_what_the_call_did()
    {
        using var capture = new TelemetryCapture();
        using var attemptDurations = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "http.client.request.duration");
        using var callDurations = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "courier.http.call.duration");
        using var attemptsPerCall = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<int>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "courier.http.call.attempts");
        using var queueWait = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<double>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "courier.http.call.queue_wait");
        using var active = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "courier.http.active_calls");
        using var retries = new Microsoft.Extensions.Diagnostics.Metrics.Testing.MetricCollector<long>(capture.MeterFactory, HttpRuntimeMetrics.MeterName, "courier.http.retries");
        await using var server = await ScriptedServer.StartAsync(number => number switch
        {
            1 or 2 => (503, ErrorBody),
            3 => (401, ErrorBody),
            _ => (0, ResponseBody),
        });
        var refresher = new ControlledRefresher { AutoAnswer = _ => ControlledRefresher.Refreshed(NewToken) };
        await using var runtime = Start(capture, refresher);

        var ok = Assert.IsType<CallSucceeded>(await runtime.Client.ExecuteAsync(HttpCall.Get(new Uri(server.BaseAddress, $"/m?key={QueryValue}"))));
        ok.Response.Dispose();
        var failed = Assert.IsType<CallFailed>(await runtime.Client.ExecuteAsync(new HttpCall(HttpMethod.Get, new Uri(server.BaseAddress, "/missing")) { Anonymous = true }));

        var attempts = attemptDurations.GetMeasurementSnapshot();
        Assert.Equal([503, 503, 401, 200, 404], attempts.Select(m => (int)m.Tags["http.response.status_code"]!));
        Assert.All(attempts, m => Assert.Equal("GET", m.Tags["http.request.method"]));
        Assert.All(attempts, m => Assert.Equal("127.0.0.1", m.Tags["server.address"]));
        Assert.All(attempts, m => Assert.True(m.Value >= 0));
        Assert.Equal(["503", "503", "401", null, "404"], attempts.Select(m => m.Tags.TryGetValue("error.type", out var e) ? e as string : null));

        var calls = callDurations.GetMeasurementSnapshot();
        Assert.Equal(2, calls.Count);
        Assert.Equal(("success", "2xx"), ((string)calls[0].Tags["courier.outcome"]!, (string)calls[0].Tags["courier.status_class"]!));
        Assert.Equal(("status", "4xx"), ((string)calls[1].Tags["courier.outcome"]!, (string)calls[1].Tags["courier.status_class"]!));
        // Two retries of 10 and 20 ms (no jitter) are inside the first call's duration.
        Assert.True(calls[0].Value >= 0.030, $"call duration {calls[0].Value} s");
        Assert.True(calls[0].Value >= attempts.Take(4).Sum(m => m.Value));
        Assert.Equal([4, 1], attemptsPerCall.GetMeasurementSnapshot().Select(m => m.Value));
        Assert.Equal(2, queueWait.GetMeasurementSnapshot().Count);
        Assert.Equal(0, active.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Equal(2, retries.GetMeasurementSnapshot().Count);
        Assert.All(capture.Measurements, m => Assert.DoesNotContain(m.Tags, t => t.Key is "url.full" or "url.path" or "url.query"));

        // Logs: LoggerMessage with stable event ids, no secret.
        var retryLogs = capture.Logs.Where(l => l.EventId.Id == Log.Ids.CallRetrying).ToList();
        Assert.Equal(2, retryLogs.Count);
        Assert.All(retryLogs, l => Assert.Equal("Courier.Requests", l.Category));
        Assert.All(retryLogs, l => Assert.Contains("key=***", l.Message));
        var failure = Assert.Single(capture.Logs, l => l.EventId.Id == Log.Ids.CallFailedClientError);
        Assert.Equal(LogLevel.Warning, failure.Level);
        Assert.Contains(((Courier.Errors.HttpStatusException)failed.Error).Message, failure.Message);
        AssertNoSecret(capture, []);
    }

    // ---- helpers -------------------------------------------------------------------------------------------------------

    private static LoopbackRuntime Start(TelemetryCapture capture, ITokenRefresher refresher) =>
        LoopbackRuntime.Start(options =>
        {
            options.MaxErrorBodyBytes = 1024; // error bodies are read: they must still go nowhere
            options.Auth = new TokenOptions { AccessToken = OldToken, RefreshToken = RefreshToken, Refresher = refresher };
        }, capture.InstallOn);

    /// <summary>The spans of <paramref name="traceId"/> once at least <paramref name="count"/> have ended (a span ends just after its call answers).</summary>
    private static async Task<IReadOnlyList<Activity>> SpansAsync(TelemetryCapture capture, ActivityTraceId traceId, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (capture.InTrace(traceId).Count < count && DateTime.UtcNow < deadline) await Task.Delay(5);
        return capture.InTrace(traceId);
    }

    private static void AssertNoSecret(TelemetryCapture capture, IEnumerable<Activity> spans)
    {
        var exported = capture.EverythingExported(spans).ToList();
        Assert.NotEmpty(exported);
        foreach (var text in exported)
            foreach (var secret in Secrets)
                Assert.False(text.Contains(secret, StringComparison.Ordinal), $"'{secret}' was exported: {text}");
    }

    /// <summary>
    /// A Kestrel server on 127.0.0.1 that answers the n-th request by the script (status 0: 200 if the request carries the new
    /// token, 401 otherwise) and records each request's <c>traceparent</c>.
    /// </summary>
    private sealed class ScriptedServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _requests;

        private ScriptedServer(WebApplication app) => _app = app;

        public Uri BaseAddress { get; private set; } = null!;

        public ConcurrentQueue<string> TraceParents { get; } = new();

        public static async Task<ScriptedServer> StartAsync(Func<int, (int Status, string Body)> script)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var server = new ScriptedServer(app);
            app.Run(async context =>
            {
                var number = Interlocked.Increment(ref server._requests);
                server.TraceParents.Enqueue(context.Request.Headers["traceparent"].ToString());
                var (status, body) = script(number);
                if (status == 0) status = context.Request.Headers.Authorization == "Bearer " + NewToken ? 200 : 401;
                if (context.Request.Path.StartsWithSegments("/missing")) status = 404;
                context.Response.StatusCode = status;
                await context.Response.WriteAsync(body);
            });
            await app.StartAsync();
            server.BaseAddress = new Uri(app.Urls.First());
            return server;
        }

        public async ValueTask DisposeAsync() => await _app.DisposeAsync();
    }
}
