using System.Net;
using System.Security.Authentication;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// What users rely on and the suite did not pin down (issue 15, items 8-10): redirects, the retry budget, and which
/// errors are retried; every response the runtime does not hand back is disposed.
/// </summary>
public sealed class RedirectAndClassificationTests : CoordinatorTestKit
{
    private static readonly Uri Url = new("https://api.example.test/items/1");

    private readonly TestProbe _retries;

    public RedirectAndClassificationTests(ITestOutputHelper output) : base(output)
    {
        _retries = EventProbe<RetryScheduled>();
    }

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Redirect(HttpStatusCode status, string location,
        List<TrackedContent>? track = null) => (_, _) =>
    {
        var content = new TrackedContent();
        track?.Add(content);
        var response = new HttpResponseMessage(status) { Content = content };
        response.Headers.Location = new Uri(location, UriKind.RelativeOrAbsolute);
        return Task.FromResult(response);
    };

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Status(HttpStatusCode status, List<TrackedContent> track) =>
        (_, _) =>
        {
            var content = new TrackedContent();
            track.Add(content);
            return Task.FromResult(new HttpResponseMessage(status) { Content = content });
        };

    private static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Ok => (_, _) => Task.FromResult(ScriptedHandler.Ok());

    // ---- redirects ---------------------------------------------------------------------------------------------

    [Fact]
    public void A_redirect_from_https_down_to_http_is_refused()
    {
        Handler.Then(Redirect(HttpStatusCode.Found, "http://api.example.test/items/1"));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Seen.ExpectMsg<SeenRequest>();
        var error = Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(HttpStatusCode.Found, error.StatusCode);
        Assert.Contains("never from https down to http", error.Message);
        Seen.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void A_redirect_loop_ends_with_a_typed_error_at_the_limit_not_at_the_deadline()
    {
        Handler.Default = Redirect(HttpStatusCode.Found, "/items/1");
        var runtime = StartRuntime(o => o.MaxRedirects = 3);
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        // No virtual time passes: the limit, not the deadline, ends the call.
        var failed = ExpectMsg<CallFailed>();
        var error = Assert.IsType<HttpStatusException>(failed.Error);
        Assert.Contains("more than 3 redirects", error.Message);
        Assert.Equal(4, Handler.Count);
        Assert.Equal(4, failed.Attempts);
    }

    [Fact]
    public void A_303_turns_any_method_into_a_GET_without_its_body()
    {
        Handler.Then(Redirect(HttpStatusCode.SeeOther, "/result/7"));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(new HttpCall(HttpMethod.Put, Url) { Body = RequestBody.Json(new { name = "x" }) }));

        var first = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpMethod.Put, first.Method);
        Assert.NotNull(first.Body);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpMethod.Get, second.Method);
        Assert.Null(second.Body);
        Assert.Equal("/result/7", second.Uri.AbsolutePath);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Theory]
    [InlineData(HttpStatusCode.MovedPermanently)]
    [InlineData(HttpStatusCode.Found)]
    public void A_POST_redirected_with_301_or_302_becomes_a_GET_and_drops_its_body(HttpStatusCode status)
    {
        Handler.Then(Redirect(status, "/elsewhere"));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));

        Assert.Equal(HttpMethod.Post, Seen.ExpectMsg<SeenRequest>().Method);
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpMethod.Get, second.Method);
        Assert.Null(second.Body);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Theory]
    [InlineData(HttpStatusCode.TemporaryRedirect)]
    [InlineData(HttpStatusCode.PermanentRedirect)]
    public void A_POST_redirected_with_307_or_308_keeps_its_method_and_body(HttpStatusCode status)
    {
        Handler.Then(Redirect(status, "/elsewhere"));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.PostJson(Url, new { amount = 10 })));

        var first = Seen.ExpectMsg<SeenRequest>();
        var second = Seen.ExpectMsg<SeenRequest>();
        Assert.Equal(HttpMethod.Post, second.Method);
        Assert.Equal(first.Body, second.Body);
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    // ---- retry budget ------------------------------------------------------------------------------------------

    [Fact]
    public void Successes_refill_a_spent_retry_budget()
    {
        // Room for one retry; five successes (refund 1 each) pay for the next one.
        var unavailable = new List<TrackedContent>();
        Handler.Then(Status(HttpStatusCode.ServiceUnavailable, unavailable)).Then(Status(HttpStatusCode.ServiceUnavailable, unavailable));
        for (var i = 0; i < 5; i++) Handler.Then(Ok);
        Handler.Then(Status(HttpStatusCode.ServiceUnavailable, unavailable)).Then(Ok);
        var runtime = StartRuntime(o => { o.RetryBudget.Capacity = 5; o.RetryBudget.RetryCost = 5; o.RetryBudget.SuccessRefund = 1; });

        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        Assert.IsType<RetryBudgetExhaustedException>(ExpectMsg<CallFailed>().Error);

        for (var i = 0; i < 5; i++)
        {
            runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
            ExpectMsg<CallSucceeded>().Response.Dispose();
        }

        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(2, ok.Attempts);
        ok.Response.Dispose();
    }

    [Fact]
    public void With_the_budget_disabled_no_retry_fails_as_exhausted_and_each_retry_is_numbered()
    {
        var unavailable = new List<TrackedContent>();
        for (var i = 0; i < 3; i++) Handler.Then(Status(HttpStatusCode.ServiceUnavailable, unavailable));
        // A budget that could not pay a single retry, switched off.
        var runtime = StartRuntime(o => { o.Retry.MaxRetries = 3; o.RetryBudget.Enabled = false; o.RetryBudget.Capacity = 1; o.RetryBudget.RetryCost = 5; });
        var call = HttpCall.Get(Url);
        runtime.Tell(new ExecuteCall(call));

        for (var retry = 1; retry <= 3; retry++)
        {
            var scheduled = _retries.ExpectMsg<RetryScheduled>();
            Assert.Equal(retry, scheduled.Retry);
            Assert.Equal(3, scheduled.MaxRetries);
            Assert.Equal(call.Id, scheduled.CallId);
            Scheduler.Advance(scheduled.Delay);
        }
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(4, ok.Attempts);
        ok.Response.Dispose();
        // Every response of a retried attempt was disposed (no connection leak).
        Assert.All(unavailable, c => Assert.True(c.Disposed));
    }

    // ---- classification ----------------------------------------------------------------------------------------

    public static TheoryData<string, Exception> NotRetried => new()
    {
        { "proxy tunnel 407", new HttpRequestException(HttpRequestError.ProxyTunnelError, "The proxy tunnel request to proxy 'http://proxy:3128/' failed with status code '407'.") },
        { "407 without an error code", new HttpRequestException("Proxy Authentication Required", null, HttpStatusCode.ProxyAuthenticationRequired) },
        { "TLS wrapped in a generic error", new HttpRequestException("An error occurred while sending the request.", new AuthenticationException("certificate rejected")) },
        { "TLS two levels down", new HttpRequestException("An error occurred while sending the request.", new IOException("handshake", new AuthenticationException("certificate rejected"))) },
    };

    [Theory]
    [MemberData(nameof(NotRetried))]
    public void Proxy_authentication_and_TLS_failures_are_not_retried(string name, Exception error)
    {
        Handler.ThenThrow(error);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        var failed = ExpectMsg<CallFailed>();
        Assert.True(failed.Error is HttpTransportException, name);
        Assert.Equal(1, failed.Attempts);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, Handler.Count);
    }

    [Fact]
    public void A_407_response_is_not_retried()
    {
        Handler.ThenStatus(HttpStatusCode.ProxyAuthenticationRequired);
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Assert.Equal(HttpStatusCode.ProxyAuthenticationRequired, Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error).StatusCode);
        _retries.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
    }

    [Fact]
    public void Responses_of_retried_attempts_and_of_followed_redirects_are_disposed()
    {
        var seen = new List<TrackedContent>();
        Handler.Then(Status(HttpStatusCode.ServiceUnavailable, seen)).Then(Redirect(HttpStatusCode.Found, "/moved", seen))
            .Then(Status(HttpStatusCode.BadGateway, seen));
        var runtime = StartRuntime();
        runtime.Tell(new ExecuteCall(HttpCall.Get(Url)));

        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        Scheduler.Advance(_retries.ExpectMsg<RetryScheduled>().Delay);
        var ok = ExpectMsg<CallSucceeded>();
        Assert.Equal(4, ok.Attempts);
        ok.Response.Dispose();
        Assert.Equal(3, seen.Count);
        Assert.All(seen, c => Assert.True(c.Disposed));
    }

    /// <summary>A body that records its disposal: an undisposed response holds its connection.</summary>
    private sealed class TrackedContent() : StringContent("{}")
    {
        public bool Disposed { get; private set; }

        protected override void Dispose(bool disposing)
        {
            Disposed = true;
            base.Dispose(disposing);
        }
    }
}
