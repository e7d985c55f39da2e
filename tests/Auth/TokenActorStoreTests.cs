using Akka.Actor;
using Courier.Auth;
using Courier.Tests.Support;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The TokenActor and its store at start and after a refresh: an unreadable store, an empty one, configured credentials,
/// and a refreshed pair the store refuses. What the calls get in each case.
/// </summary>
public sealed class TokenActorStoreTests(ITestOutputHelper output) : TokenActorTestKit(output)
{
    [Fact]
    public void An_unreadable_store_signs_out_with_its_error_and_says_so_once()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartTokens(null, new BrokenStore());

        Assert.Equal("SignedOut", StatusOf(tokens).State);
        Assert.Contains("The token store 'broken' cannot be read", failed.ExpectMsg<AuthenticationFailed>().Reason);
        tokens.Tell(new GetToken(1));
        var error = ExpectMsg<TokenUnavailable>().Error;
        Assert.Contains("The token store 'broken' cannot be read", error.Message);
        Assert.IsType<TokenStoreException>(error.InnerException);
        Assert.Equal(0, Refresher.Calls);
    }

    [Fact]
    public void With_an_acquirer_an_unreadable_store_loses_nothing_the_first_call_acquires()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartTokens(null, new BrokenStore(), s => s with { Refresher = null, Acquirer = Refresher }, withRefresher: false);

        Assert.Equal("Ready", StatusOf(tokens).State);
        tokens.Tell(new GetToken(1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("cc-1"));
        Assert.Equal("cc-1", ExpectMsg<TokenGranted>().AccessToken);
        failed.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void With_nothing_stored_and_nothing_configured_calls_fail_asking_for_a_sign_in_without_an_alarm()
    {
        var failed = Events<AuthenticationFailed>();
        var tokens = StartTokens(null);

        Assert.Equal("SignedOut", StatusOf(tokens).State);
        tokens.Tell(new GetToken(1));
        Assert.Contains("no credentials: sign in first", ExpectMsg<TokenUnavailable>().Error.Message);
        failed.ExpectNoMsg(TimeSpan.FromMilliseconds(50));
    }

    [Fact]
    public void Configured_credentials_are_used_when_the_store_is_empty_and_written_to_it_so_a_rotation_survives_a_restart()
    {
        var store = new HeldStore();
        var configured = new TokenPair("configured", "refresh-0");
        var tokens = StartTokens(null, store, s => s with { Initial = configured });

        tokens.Tell(new GetToken(1));
        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("configured", 1L), (granted.AccessToken, granted.Generation));
        AwaitAssert(() => Assert.Equal([configured], store.Saved));
    }

    [Fact]
    public void Stored_credentials_win_over_configured_ones_and_are_not_written_again()
    {
        var stored = new TokenPair("stored", "refresh-7");
        var store = new HeldStore(stored);
        var tokens = StartTokens(null, store, s => s with { Initial = new TokenPair("configured", "refresh-0") });

        tokens.Tell(new GetToken(1));
        Assert.Equal("stored", ExpectMsg<TokenGranted>().AccessToken);
        StatusOf(tokens);
        Assert.Empty(store.Saved);
    }

    [Fact]
    public void A_refreshed_pair_the_store_refuses_is_still_used_because_the_old_refresh_token_is_spent()
    {
        var tokens = StartTokens(null, new RefusingSaves(new TokenPair("token-1", "refresh-1")));
        tokens.Tell(new TokenRejected(1, 1));
        AwaitCalls(1);
        Refresher.Answer(ControlledRefresher.Refreshed("token-2", "refresh-2"));

        var granted = ExpectMsg<TokenGranted>();
        Assert.Equal(("token-2", 2L), (granted.AccessToken, granted.Generation));
        Assert.Equal(("Ready", 1L), (StatusOf(tokens).State, StatusOf(tokens).Refreshes));
    }

    private sealed class BrokenStore : ITokenStore
    {
        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) =>
            Task.FromException<TokenPair?>(new TokenStoreException("The token store 'broken' cannot be read: disk error"));

        public Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken) => Task.CompletedTask;

        public Task ClearAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    private sealed class RefusingSaves(TokenPair initial) : ITokenStore
    {
        public Task<TokenPair?> LoadAsync(CancellationToken cancellationToken) => Task.FromResult<TokenPair?>(initial);

        public Task SaveAsync(TokenPair credentials, CancellationToken cancellationToken) =>
            Task.FromException(new TokenStoreException("The token store 'full' cannot be written: no space left"));

        public Task ClearAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
