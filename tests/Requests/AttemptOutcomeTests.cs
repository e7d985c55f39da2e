using System.Net;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// What a caller gets back from one attempt, beyond retries: the start of an error body (bounded), typed errors for a
/// request that cannot be built or sent, a one-shot body sent once, and the caller's request settings on the wire.
/// </summary>
public sealed class AttemptOutcomeTests : TestKit
{
    private static readonly Uri Url = new("https://api.example.test/orders");

    private readonly TestProbe _seen;
    private readonly TestProbe _tokens;
    private readonly TestProbe _retries;
    private readonly ScriptedHandler _handler;

    public AttemptOutcomeTests(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        _seen = CreateTestProbe();
        _tokens = CreateTestProbe();
        _retries = CreateTestProbe();
        Sys.EventStream.Subscribe(_retries.Ref, typeof(RetryScheduled));
        _handler = new ScriptedHandler(_seen.Ref, () => Scheduler.Now);
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private IActorRef StartCoordinator(Action<HttpRuntimeOptions>? configure = null, Func<HttpClient>? clients = null, bool withTokens = false)
    {
        var options = new HttpRuntimeOptions();
        options.Retry.Jitter = JitterMode.None;
        if (withTokens) options.Auth = new TokenOptions();
        configure?.Invoke(options);
        var client = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var runtime = new RequestRuntime(options, clients ?? (() => client), Sys.Log) { Tokens = withTokens ? _tokens.Ref : null };
        return Sys.ActorOf(RequestCoordinator.Props(runtime));
    }

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Status(HttpStatusCode status, string body) =>
        (_, _) => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body) });

    // ---- error bodies --------------------------------------------------------------------------------------------

    [Fact]
    public void An_error_body_is_handed_back_cut_at_MaxErrorBodyBytes()
    {
        _handler.Then(Status(HttpStatusCode.BadRequest, "0123456789" + new string('x', 5000)));
        var coordinator = StartCoordinator(o => o.MaxErrorBodyBytes = 10);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Equal("0123456789", error.ResponseBody);
    }

    [Fact]
    public void An_error_body_shorter_than_the_limit_is_handed_back_whole()
    {
        _handler.Then(Status(HttpStatusCode.Conflict, "{\"error\":\"taken\"}"));
        var coordinator = StartCoordinator(o => o.MaxErrorBodyBytes = 4096);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Assert.Equal("{\"error\":\"taken\"}", Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).ResponseBody);
    }

    [Fact]
    public void With_MaxErrorBodyBytes_0_no_error_body_is_read()
    {
        _handler.Then(Status(HttpStatusCode.Conflict, "{\"error\":\"taken\"}"));
        var coordinator = StartCoordinator(o => o.MaxErrorBodyBytes = 0);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Assert.Null(Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).ResponseBody);
    }

    [Fact]
    public async Task A_successful_response_is_handed_back_with_its_body_unread()
    {
        _handler.Then(Status(HttpStatusCode.OK, "the whole body"));
        var coordinator = StartCoordinator(o => o.MaxErrorBodyBytes = 4);
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(1, ok.Attempts);
        Assert.Equal("the whole body", await ok.Response.Content.ReadAsStringAsync());
        ok.Response.Dispose();
    }

    [Fact]
    public void The_last_error_of_a_call_ended_by_its_deadline_is_in_the_deadline_error()
    {
        _handler.Default = Status(HttpStatusCode.ServiceUnavailable, "busy");
        var coordinator = StartCoordinator(o => { o.CallDeadline = TimeSpan.FromMilliseconds(250); o.Retry.MaxRetries = 5; });
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay); // 100 ms, then 200 ms would pass the deadline
        var error = Assert.IsType<HttpCallTimeoutException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(TimeoutKind.Deadline, error.Kind);
        var last = Assert.IsType<HttpStatusException>(error.InnerException);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, last.StatusCode);
        Assert.Equal(2, error.Attempts);
    }

    [Fact]
    public void An_error_body_that_breaks_while_read_does_not_hide_the_status()
    {
        _handler.Then((_, _) => Task.FromResult(new HttpResponseMessage(HttpStatusCode.BadRequest) { Content = new BrokenContent() }));
        var coordinator = StartCoordinator();
        // Streamed (headers read): the body is read only for the error snippet, after the status is known.
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { Completion = HttpCompletionOption.ResponseHeadersRead }));

        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.BadRequest, error.StatusCode);
        Assert.Null(error.ResponseBody);
    }

    [Fact]
    public async Task A_response_that_arrives_after_the_call_was_cancelled_is_disposed()
    {
        var arrived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var content = new TrackedContent();
        _handler.Then(async (_, ct) =>
        {
            // A handler that notices the cancellation but answers anyway (as one mid-way through the headers can).
            var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            await using (ct.Register(() => cancelled.TrySetResult()))
                await cancelled.Task;
            arrived.TrySetResult();
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = content };
        });
        var coordinator = StartCoordinator();
        var call = HttpCall.Get(Url);
        coordinator.Tell(new ExecuteCall(call));
        _seen.ExpectMsg<SeenRequest>();

        coordinator.Tell(new CancelCall(call.Id));
        Assert.IsType<HttpCallCanceledException>(ExpectMsg<CallFailed>().Error);
        await arrived.Task.WaitAsync(TimeSpan.FromSeconds(30)); // generous: only a failing run waits it out
        Assert.True(await Task.WhenAny(content.Disposed, Task.Delay(TimeSpan.FromSeconds(30))) == content.Disposed, "the late response was never disposed (its connection stays taken)");
    }

    // ---- requests that cannot be built or sent -------------------------------------------------------------------

    [Fact]
    public void A_content_header_among_the_request_headers_is_an_invalid_call_that_names_it_and_sends_nothing()
    {
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url).WithHeader("Content-Type", "application/json")));

        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<InvalidHttpCallException>(failed.Error);
        Assert.Contains("'Content-Type' is not a request header", error.Message);
        Assert.Equal(0, failed.Attempts);
        Assert.Equal(0, _handler.Count);
    }

    [Fact]
    public void A_client_source_that_throws_ends_the_call_with_a_runtime_error_that_says_why()
    {
        var coordinator = StartCoordinator(clients: () => throw new InvalidOperationException("the factory is disposed"));
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<RuntimeUnavailableException>(failed.Error);
        Assert.Contains("no HttpClient could be created: the factory is disposed", error.Message);
        Assert.IsType<InvalidOperationException>(error.InnerException);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_request_that_the_handler_rejects_as_invalid_is_an_invalid_call_and_not_retried()
    {
        _handler.ThenThrow(new InvalidOperationException("no base address"));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<InvalidHttpCallException>(failed.Error);
        Assert.Contains("no base address", error.Message);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
        Assert.Equal(1, _handler.Count);
    }

    [Fact]
    public void A_transport_failure_names_its_reason_and_the_underlying_message()
    {
        _handler.ThenThrow(new HttpRequestException(HttpRequestError.SecureConnectionError, "certificate expired"));
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var error = Assert.IsType<HttpTransportException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("TLS handshake failed (certificate expired)", error.Message);
    }

    // ---- one-shot bodies -----------------------------------------------------------------------------------------

    [Fact]
    public void A_one_shot_body_is_sent_once_and_a_retryable_status_is_the_answer()
    {
        _handler.Then(Status(HttpStatusCode.ServiceUnavailable, "busy"));
        var coordinator = StartCoordinator();
        var call = new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.SendOnce(new StringContent("stream")) };
        coordinator.Tell(new ExecuteCall(call));

        Assert.Equal("stream", _seen.ExpectMsg<SeenRequest>().Body);
        var failed = ExpectMsg<CallFailed>();
        Assert.Equal(HttpStatusCode.ServiceUnavailable, Assert.IsType<HttpStatusException>(failed.Error).StatusCode);
        Assert.Equal(1, failed.Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void A_one_shot_body_refused_for_its_token_is_not_resent_after_a_refresh()
    {
        _handler.Then(Status(HttpStatusCode.Unauthorized, ""));
        var coordinator = StartCoordinator(withTokens: true);
        var call = new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.SendOnce(new StringContent("stream")) };
        coordinator.Tell(new ExecuteCall(call));

        _tokens.ExpectMsg<GetToken>();
        _tokens.Reply(new TokenGranted(call.Id, "access-1", 1));
        _seen.ExpectMsg<SeenRequest>();
        var error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("cannot be resent after a refresh", error.Message);
        _tokens.ExpectNoMsg(TimeSpan.FromMilliseconds(50)); // no refresh asked for a call that cannot use it
    }

    // ---- the caller's settings reach the wire --------------------------------------------------------------------

    [Fact]
    public void The_calls_request_options_and_version_reach_the_handler()
    {
        var key = new HttpRequestOptionsKey<string>("tenant");
        string? seenTenant = null;
        Version? seenVersion = null;
        _handler.Then((request, _) =>
        {
            request.Options.TryGetValue(key, out seenTenant);
            seenVersion = request.Version;
            return Task.FromResult(ScriptedHandler.Ok());
        });
        var coordinator = StartCoordinator();
        coordinator.Tell(new ExecuteCall(HttpCall.Get(Url) with { RequestOptions = [new("tenant", "blue")], Version = HttpVersion.Version20 }));

        ExpectMsg<CallSucceeded>().Response.Dispose();
        Assert.Equal("blue", seenTenant);
        Assert.Equal(HttpVersion.Version20, seenVersion);
    }
    private sealed class BrokenContent : HttpContent
    {
        protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => throw new IOException("connection reset while reading the body");

        protected override Task<Stream> CreateContentReadStreamAsync() => throw new IOException("connection reset while reading the body");

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }
    }

    private sealed class TrackedContent() : StringContent("late")
    {
        private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Disposed => _disposed.Task;

        protected override void Dispose(bool disposing)
        {
            _disposed.TrySetResult();
            base.Dispose(disposing);
        }
    }
}
