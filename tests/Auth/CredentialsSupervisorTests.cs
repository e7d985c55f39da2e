using Akka.Actor;
using Courier.Auth;
using Courier.Errors;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The named credentials (Courier:Credentials:{name}): each its own TokenActor under one supervisor, reached by name; a
/// call for a name that is not running fails at once with an authentication error naming it, never hangs; a TokenActor
/// that throws is restarted with its store reloaded.
/// </summary>
public sealed class CredentialsSupervisorTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    private TokenSettings Settings(ITokenStore store, string credential) => new()
    {
        Refresher = Refresher, Store = store, ProactiveRefresh = false, DelayBeforeRetry = DelayBeforeRetry, Credential = credential,
    };

    private IActorRef StartSupervisor(params (string Name, ITokenStore Store)[] credentials) =>
        Sys.ActorOf(CredentialsSupervisor.Props(credentials.ToDictionary(c => c.Name, c => Settings(c.Store, c.Name))),
            "credentials-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public void Each_named_credential_answers_the_caller_with_its_own_token()
    {
        var supervisor = StartSupervisor(
            ("billing", new InMemoryTokenStore(new TokenPair("billing-token", "billing-refresh"))),
            ("catalog", new InMemoryTokenStore(new TokenPair("catalog-token", "catalog-refresh"))));

        supervisor.Tell(new ForCredential("billing", new GetToken(1)), TestActor);
        var billing = ExpectMsg<TokenGranted>();
        Assert.Equal((1L, "billing-token"), (billing.CallId, billing.AccessToken));
        supervisor.Tell(new ForCredential("catalog", new GetToken(2)), TestActor);
        var catalog = ExpectMsg<TokenGranted>();
        Assert.Equal((2L, "catalog-token"), (catalog.CallId, catalog.AccessToken));
        supervisor.Tell(new ForCredential("catalog", GetTokenStatus.Instance), TestActor);
        Assert.Equal("Ready", ExpectMsg<TokenStatus>().State);
    }

    [Fact]
    public void A_call_for_a_credential_that_is_not_running_fails_at_once_naming_it()
    {
        var supervisor = StartSupervisor(("billing", new InMemoryTokenStore(new TokenPair("billing-token", "billing-refresh"))));

        supervisor.Tell(new ForCredential("payroll", new GetToken(7)), TestActor);
        var unavailable = ExpectMsg<TokenUnavailable>();
        Assert.Equal(7, unavailable.CallId);
        Assert.Equal("payroll", unavailable.Error.Credential);
        Assert.Contains("no such credential is running", unavailable.Error.Message);

        supervisor.Tell(new ForCredential("payroll", new TokenRejected(8, 1)), TestActor);
        var rejected = ExpectMsg<TokenUnavailable>();
        Assert.Equal((8L, "payroll"), (rejected.CallId, rejected.Error.Credential));

        supervisor.Tell(new ForCredential("payroll", SignOut.Instance), TestActor);
        var failure = Assert.IsType<AuthenticationFailedException>(ExpectMsg<Status.Failure>().Cause);
        Assert.Equal("payroll", failure.Credential);
    }

    [Fact]
    public void A_TokenActor_that_throws_is_restarted_and_serves_from_its_reloaded_store()
    {
        var store = new ThrowingStore(new TokenPair("billing-token", "billing-refresh"), failures: 2);
        var supervisor = StartSupervisor(("billing", store));

        supervisor.Tell(new ForCredential("billing", new GetToken(1)), TestActor);

        Assert.Equal("billing-token", ExpectMsg<TokenGranted>().AccessToken);
        Assert.Equal(3, store.Loads);
    }

    [Fact]
    public void A_TokenActor_that_keeps_throwing_is_stopped_after_ten_restarts_and_its_calls_then_fail_naming_it()
    {
        var store = new ThrowingStore(new TokenPair("billing-token", "billing-refresh"), failures: int.MaxValue);
        var supervisor = StartSupervisor(("billing", store));

        // Until the supervisor has stopped it, a call reaches the failing actor and is lost with it: ask again until answered.
        var probe = CreateTestProbe();
        AwaitAssert(() =>
        {
            supervisor.Tell(new ForCredential("billing", new GetToken(3)), probe.Ref);
            Assert.Equal("billing", probe.ExpectMsg<TokenUnavailable>(TimeSpan.FromMilliseconds(200)).Error.Credential);
        }, TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(10));

        Assert.Equal(11, store.Loads); // the first start and ten restarts
    }

    /// <summary>A store whose first loads throw at once (a bug, not a read error): the TokenActor's start fails.</summary>
    private sealed class ThrowingStore(TokenPair pair, int failures) : ITokenStore
    {
        private int _loads;

        public int Loads => Volatile.Read(ref _loads);

        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) =>
            Interlocked.Increment(ref _loads) <= failures ? throw new InvalidOperationException("store bug") : Task.FromResult<TokenPair?>(pair);

        public Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ClearAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
