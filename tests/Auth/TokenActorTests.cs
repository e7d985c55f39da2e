using System.Net;
using Akka.Actor;
using Akka.TestKit;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Courier.Errors;
using Courier.Requests;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The TokenActor under every interleaving that matters, deterministically: virtual time (TestScheduler), a refresher the
/// test answers by hand, a scripted API that accepts only the current token, and waits on messages only.
/// </summary>
public sealed class TokenActorTests : TestKit
{
    private static readonly Uri Api = new("https://api.example.test/secure/orders");

    private readonly ControlledRefresher _refresher = new();
    private readonly TestProbe _seen;
    private readonly ScriptedHandler _handler;
    private string _validToken = "token-1";

    public TokenActorTests(ITestOutputHelper output)
        : base(@"akka.scheduler.implementation = ""Akka.TestKit.TestScheduler, Akka.TestKit""", output: output)
    {
        _seen = CreateTestProbe();
        _handler = new ScriptedHandler(_seen.Ref, () => Scheduler.Now)
        {
            // The API accepts exactly the token the test calls valid, like a server that expired the others.
            Default = (request, _) => Task.FromResult(
                request.Headers.Authorization?.Parameter == Volatile.Read(ref _validToken)
                    ? ScriptedHandler.Ok($"{{\"token\":\"{request.Headers.Authorization.Parameter}\"}}")
                    : new HttpResponseMessage(HttpStatusCode.Unauthorized)),
        };
    }

    private TestScheduler Scheduler => (TestScheduler)Sys.Scheduler;

    private HttpRuntimeActors Start(TokenPair initial, Action<TokenOptions>? configure = null)
    {
        var options = new HttpRuntimeOptions { MaxConcurrentCalls = 2000 };
        options.Retry.Jitter = JitterMode.None;
        options.Auth = new TokenOptions
        {
            Refresher = _refresher,
            Store = new InMemoryTokenStore(initial),
        };
        configure?.Invoke(options.Auth);
        var client = new HttpClient(_handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        return HttpRuntime.StartActors(Sys, options, () => client, name: "rt-" + Guid.NewGuid().ToString("N"));
    }

    private TokenStatus StatusOf(IActorRef tokens)
    {
        tokens.Tell(GetTokenStatus.Instance, TestActor);
        return ExpectMsg<TokenStatus>();
    }

    private void AwaitWaiting(IActorRef tokens, int count) =>
        AwaitAssert(() => Assert.Equal(count, StatusOf(tokens).Waiting), TimeSpan.FromSeconds(20), TimeSpan.FromMilliseconds(20));

    [Fact]
    public void A_thousand_calls_with_an_expired_token_cause_exactly_one_refresh_and_all_succeed_with_the_new_token()
    {
        var expired = Scheduler.Now.AddSeconds(-1);
        var actors = Start(new TokenPair("token-1", "refresh-1", expired));

        for (var i = 0; i < 1000; i++) actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));

        AwaitWaiting(actors.Tokens!, 1000);
        Assert.Equal(1, _refresher.Calls);
        Assert.Equal(0, _handler.Count); // nothing went out with the expired token
        _validToken = "token-2";
        _refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));

        var results = ReceiveN(1000, TimeSpan.FromSeconds(30)).Cast<CallResult>().ToList();
        Assert.All(results, r => Assert.IsType<CallSucceeded>(r));
        Assert.All(results.Cast<CallSucceeded>(), r => Assert.Equal(1, r.Attempts));
        Assert.Equal(1, _refresher.Calls);
        Assert.Equal(new[] { "refresh-1" }, _refresher.RefreshTokensSeen);
        Assert.Equal(2, StatusOf(actors.Tokens!).Generation);
    }

    [Fact]
    public void A_thousand_calls_refused_with_401_in_any_order_cause_exactly_one_refresh()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1"));
        _validToken = "token-2"; // the server refuses token-1 and accepts only the token the refresh will bring
        _refresher.AutoAnswer = n => ControlledRefresher.Refreshed("token-" + (n + 1), "refresh-" + (n + 1));

        // Calls still carrying token-1 when the refresh is done report generation 1, which is older than the current
        // one: they must be given token-2 without a second refresh.
        Sys.EventStream.Subscribe(TestActor, typeof(TokenRefreshed));
        for (var i = 0; i < 1000; i++) actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));

        var refreshed = 0;
        var results = new List<CallResult>();
        ReceiveWhile<object>(TimeSpan.FromSeconds(30), m =>
        {
            if (m is TokenRefreshed) refreshed++;
            if (m is CallResult r) results.Add(r);
            return m;
        }, 1001);

        Assert.Equal(1, refreshed);
        Assert.Equal(1, _refresher.Calls);
        Assert.Equal(1000, results.Count);
        Assert.All(results, r => Assert.IsType<CallSucceeded>(r));
        Assert.All(results, r => Assert.InRange(r.Attempts, 1, 2));
    }

    [Fact]
    public void A_rejection_carrying_an_old_generation_after_the_refresh_gets_the_new_token_without_a_second_refresh()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1"));
        var tokens = actors.Tokens!;
        tokens.Tell(new GetToken(1));
        Assert.Equal(1, ExpectMsg<TokenGranted>().Generation);

        tokens.Tell(new TokenRejected(1, 1));
        AwaitWaiting(tokens, 1);
        _refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(2, granted.Generation);
        Assert.Equal("token-2", granted.AccessToken);

        // A late 401 for a call that had used generation 1.
        tokens.Tell(new TokenRejected(2, 1));
        Assert.Equal(2, ExpectMsg<TokenGranted>().Generation);
        Assert.Equal(1, _refresher.Calls);
    }

    [Fact]
    public void A_definitive_refresh_failure_fails_every_waiting_call_publishes_one_event_and_later_calls_fail_fast()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-1)));
        var events = CreateTestProbe();
        Sys.EventStream.Subscribe(events.Ref, typeof(AuthenticationFailed));

        for (var i = 0; i < 50; i++) actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        AwaitWaiting(actors.Tokens!, 50);
        _refresher.Answer(new TokenRefreshResult.Rejected("the token endpoint answered 400 (invalid_grant)"));

        var failures = ReceiveN(50, TimeSpan.FromSeconds(10)).Cast<CallFailed>().ToList();
        Assert.All(failures, f => Assert.Contains("invalid_grant", Assert.IsType<AuthenticationFailedException>(f.Error).Message));
        var published = events.ExpectMsg<AuthenticationFailed>();
        Assert.Contains("invalid_grant", published.Reason);
        events.ExpectNoMsg(TimeSpan.FromMilliseconds(200));

        // Signed out: calls fail at once and never go out without a token.
        actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Equal(0, _handler.Count);
        Assert.Equal(1, _refresher.Calls);
        Assert.Equal("SignedOut", StatusOf(actors.Tokens!).State);
        events.ExpectNoMsg(TimeSpan.FromMilliseconds(100));

        // New credentials bring it back.
        actors.Tokens!.Tell(new SignIn(new TokenPair("token-9", "refresh-9")));
        ExpectMsg<SignedIn>();
        _validToken = "token-9";
        actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        ExpectMsg<CallSucceeded>().Response.Dispose();
    }

    [Fact]
    public void A_transient_refresh_failure_is_retried_on_the_scheduler_while_calls_wait()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-1)));
        for (var i = 0; i < 10; i++) actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        AwaitWaiting(actors.Tokens!, 10);

        var failures = CreateTestProbe();
        Sys.EventStream.Subscribe(failures.Ref, typeof(TokenRefreshFailed));
        _refresher.Answer(new TokenRefreshResult.Failed("the token endpoint answered 503"));
        Assert.Equal(TimeSpan.FromMilliseconds(100), failures.ExpectMsg<TokenRefreshFailed>().RetryIn);
        Scheduler.Advance(TimeSpan.FromMilliseconds(99));
        ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(1, _refresher.Calls);
        Scheduler.Advance(TimeSpan.FromMilliseconds(1)); // first retry after 100 ms
        AwaitAssert(() => Assert.Equal(2, _refresher.Calls));

        _validToken = "token-2";
        _refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        Assert.All(ReceiveN(10, TimeSpan.FromSeconds(10)), r => Assert.IsType<CallSucceeded>(r));
    }

    [Fact]
    public void The_refresh_timeout_releases_the_waiting_calls_with_a_clear_error()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-1)),
            o => { o.RefreshTimeout = TimeSpan.FromSeconds(5); o.RefreshAttemptTimeout = TimeSpan.FromSeconds(60); });
        for (var i = 0; i < 20; i++) actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        AwaitWaiting(actors.Tokens!, 20);

        Scheduler.Advance(TimeSpan.FromSeconds(5));

        var failures = ReceiveN(20, TimeSpan.FromSeconds(10)).Cast<CallFailed>().ToList();
        Assert.All(failures, f => Assert.Contains("did not finish within 5 s", f.Error.Message));
        // Not signed out: the next call starts a new refresh.
        Assert.Equal("Ready", StatusOf(actors.Tokens!).State);
        actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));
        AwaitAssert(() => Assert.Equal(2, _refresher.Calls));
    }

    [Fact]
    public void Proactive_refresh_fires_at_expiry_minus_the_margin()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddMinutes(5)));
        var refreshed = CreateTestProbe();
        Sys.EventStream.Subscribe(refreshed.Ref, typeof(TokenRefreshed));
        StatusOf(actors.Tokens!); // the actor has loaded its credentials and set its timer

        Scheduler.Advance(TimeSpan.FromSeconds(239));
        refreshed.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Assert.Equal(0, _refresher.Calls);
        Scheduler.Advance(TimeSpan.FromSeconds(1)); // 5 min - 60 s
        AwaitAssert(() => Assert.Equal(1, _refresher.Calls));

        // While a proactive refresh runs, the still-valid token keeps being served.
        actors.Tokens!.Tell(new GetToken(7));
        Assert.Equal("token-1", ExpectMsg<TokenGranted>().AccessToken);

        _refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2", expiresInSeconds: 30));
        var message = refreshed.ExpectMsg<TokenRefreshed>();
        Assert.Equal("proactive", message.Trigger);

        // A short lifetime gets a proportional margin: 30 s × 0.2 = 6 s early.
        Scheduler.Advance(TimeSpan.FromSeconds(23));
        refreshed.ExpectNoMsg(TimeSpan.FromMilliseconds(100));
        Scheduler.Advance(TimeSpan.FromSeconds(1));
        AwaitAssert(() => Assert.Equal(2, _refresher.Calls));
        Assert.Equal("refresh-2", _refresher.RefreshTokensSeen[1]); // the rotated refresh token is the one used
    }

    [Fact]
    public void A_call_refused_again_after_a_refresh_fails_with_an_authentication_error_instead_of_looping()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1"));
        _validToken = "nothing-is-accepted";
        _refresher.AutoAnswer = n => ControlledRefresher.Refreshed("token-" + (n + 1), "refresh-" + (n + 1));

        actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api)));

        var error = Assert.IsType<AuthenticationFailedException>(ExpectMsg<CallFailed>().Error);
        Assert.Contains("again after a refresh", error.Message);
        Assert.Equal(2, error.Attempts);
        Assert.Equal(1, _refresher.Calls);
    }

    [Fact]
    public void The_refresh_keeps_the_old_refresh_token_when_the_answer_has_none()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddSeconds(-1)));
        _refresher.AutoAnswer = n => ControlledRefresher.Refreshed("token-" + (n + 1), refresh: null, expiresInSeconds: 1);
        actors.Tokens!.Tell(new GetToken(1));
        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);

        Scheduler.Advance(TimeSpan.FromSeconds(2)); // token-2 expired
        actors.Tokens!.Tell(new GetToken(2));
        Assert.Equal("token-3", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(new[] { "refresh-1", "refresh-1" }, _refresher.RefreshTokensSeen);
    }

    [Fact]
    public void Anonymous_calls_carry_no_token_and_never_refresh()
    {
        var actors = Start(new TokenPair("token-1", "refresh-1"));
        actors.Requests.Tell(new ExecuteCall(HttpCall.Get(Api) with { Anonymous = true }));
        var seen = _seen.ExpectMsg<SeenRequest>();
        Assert.False(seen.Headers.ContainsKey("Authorization"));
        Assert.IsType<HttpStatusException>(ExpectMsg<CallFailed>().Error); // 401 is just a status for an anonymous call
        Assert.Equal(0, _refresher.Calls);
    }

    [Fact]
    public async Task Store_writes_land_in_the_order_they_were_asked_so_a_rotated_refresh_token_is_never_overwritten()
    {
        // The first write (the configured credentials, saved at start) is held open by the store while a refresh
        // rotates the refresh token. Whatever the timing, the store must end with the rotated pair.
        var store = new GatedStore();
        var options = new HttpRuntimeOptions();
        options.Auth = new TokenOptions { Refresher = _refresher, Store = store, AccessToken = "token-1", RefreshToken = "refresh-1" };
        _refresher.AutoAnswer = n => ControlledRefresher.Refreshed("token-" + (n + 1), "refresh-" + (n + 1));
        var client = new HttpClient(_handler, disposeHandler: false);
        var tokens = HttpRuntime.StartActors(Sys, options, () => client, name: "rt-" + Guid.NewGuid().ToString("N")).Tokens!;

        tokens.Tell(new GetToken(1));
        Assert.Equal(1, ExpectMsg<TokenGranted>().Generation);
        await store.FirstSaveStarted.WaitAsync(TimeSpan.FromSeconds(10));
        tokens.Tell(new TokenRejected(2, 1));
        AwaitWaiting(tokens, 1); // the refresh waits for its own write, which waits behind the held one
        store.ReleaseFirstSave();

        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(new[] { "refresh-1", "refresh-2" }, store.CompletedSaves.Select(p => p.RefreshToken));
        Assert.Equal("refresh-2", (await store.LoadAsync(CancellationToken.None))!.RefreshToken);
    }

    [Fact]
    public async Task The_refresh_deadline_passing_while_the_new_pair_is_stored_does_not_throw_the_new_pair_away()
    {
        var store = new GatedStore(new TokenPair("token-1", "refresh-1"));
        var options = new HttpRuntimeOptions();
        options.Auth = new TokenOptions { Refresher = _refresher, Store = store, RefreshTimeout = TimeSpan.FromSeconds(5) };
        var client = new HttpClient(_handler, disposeHandler: false);
        var tokens = HttpRuntime.StartActors(Sys, options, () => client, name: "rt-" + Guid.NewGuid().ToString("N")).Tokens!;

        tokens.Tell(new TokenRejected(1, 1));
        AwaitWaiting(tokens, 1);
        _refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));
        await store.FirstSaveStarted.WaitAsync(TimeSpan.FromSeconds(10)); // the rotated pair is being written...
        Scheduler.Advance(TimeSpan.FromSeconds(9));                       // ...when the refresh deadline passes (not the write bound)
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));                      // the waiting call is not failed with the old pair
        store.ReleaseFirstSave();

        Assert.Equal("token-2", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(2, StatusOf(tokens).Generation);
    }

    [Fact]
    public void Without_a_token_endpoint_a_known_expiry_does_not_sign_out_early()
    {
        var options = new HttpRuntimeOptions();
        options.Auth = new TokenOptions { Store = new InMemoryTokenStore(new TokenPair("token-1", "refresh-1", Scheduler.Now.AddMinutes(5))) };
        var client = new HttpClient(_handler, disposeHandler: false);
        var tokens = HttpRuntime.StartActors(Sys, options, () => client, name: "rt-" + Guid.NewGuid().ToString("N")).Tokens!;
        var failures = CreateTestProbe();
        Sys.EventStream.Subscribe(failures.Ref, typeof(AuthenticationFailed));
        StatusOf(tokens);

        Scheduler.Advance(TimeSpan.FromMinutes(4) + TimeSpan.FromSeconds(30)); // past "expiry minus the margin"

        failures.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        tokens.Tell(new GetToken(1));
        Assert.Equal("token-1", ExpectMsg<TokenGranted>().AccessToken);
    }

    [Fact]
    public async Task SignedIn_is_answered_once_the_new_credentials_are_stored()
    {
        var store = new GatedStore();
        var options = new HttpRuntimeOptions();
        options.Auth = new TokenOptions { Refresher = _refresher, Store = store };
        var client = new HttpClient(_handler, disposeHandler: false);
        var tokens = HttpRuntime.StartActors(Sys, options, () => client, name: "rt-" + Guid.NewGuid().ToString("N")).Tokens!;

        tokens.Tell(new SignIn(new TokenPair("token-1", "refresh-1")));
        await store.FirstSaveStarted.WaitAsync(TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200)); // not before the write is done
        store.ReleaseFirstSave();

        Assert.Equal(1, ExpectMsg<SignedIn>().Generation);
        Assert.Equal("refresh-1", (await store.LoadAsync(CancellationToken.None))!.RefreshToken);
    }

    /// <summary>A store whose first save does not finish until the test says so.</summary>
    private sealed class GatedStore(TokenPair? initial = null) : ITokenStore
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _firstStarted = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<TokenPair> _completed = [];
        private int _saves;

        public Task FirstSaveStarted => _firstStarted.Task;
        public IReadOnlyList<TokenPair> CompletedSaves { get { lock (_completed) return _completed.ToArray(); } }
        public void ReleaseFirstSave() => _gate.TrySetResult();

        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken)
        {
            lock (_completed) return Task.FromResult(_completed.LastOrDefault() ?? initial);
        }

        public async Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken)
        {
            if (Interlocked.Increment(ref _saves) == 1)
            {
                _firstStarted.TrySetResult();
                await _gate.Task;
            }
            lock (_completed) _completed.Add(credentials);
        }

        public Task ClearAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    [Fact]
    public void Token_messages_and_errors_never_show_a_token()
    {
        var pair = new TokenPair("secret-access-token", "secret-refresh-token");
        Assert.DoesNotContain("secret", pair.ToString());
        Assert.DoesNotContain("secret", new TokenGranted(1, "secret-access-token", 1).ToString());
        Assert.DoesNotContain("secret", new TokenRefreshResult.Refreshed("secret-access-token", "secret-refresh-token", null).ToString());
        Assert.StartsWith("sha256:", TokenFingerprint.Of("secret-access-token"));
    }
}
