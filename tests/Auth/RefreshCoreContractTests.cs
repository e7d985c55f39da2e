using Akka.Actor;
using Akka.Event;
using Courier.Auth;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The refresh core's own contract, as its two actors (the TokenActor and the cluster's credential owner) rely on it:
/// one refresh at a time, and a refresh token given exactly when the core refreshes (none when it acquires). A misuse
/// is refused loudly instead of starting a second refresh or sending a request without its token.
/// </summary>
public sealed class RefreshCoreContractTests(ITestOutputHelper output) : Akka.TestKit.Xunit2.TestKit(output: output)
{
    [Fact]
    public void A_second_refresh_begun_while_one_runs_is_refused_and_sends_nothing()
    {
        var refresher = new PendingRefresher();
        var core = Sys.ActorOf(Props.Create(() => new CoreHost(refresher, null)));

        core.Tell(new BeginRefresh("refresh-1"));
        ExpectMsg("begun");
        core.Tell(new BeginRefresh("refresh-1"));
        ExpectMsg("A refresh is already running.");

        AwaitAssert(() => Assert.Equal(["refresh-1"], refresher.Seen));
    }

    [Fact]
    public void A_refreshing_core_refuses_to_begin_without_a_refresh_token()
    {
        var refresher = new PendingRefresher();
        var core = Sys.ActorOf(Props.Create(() => new CoreHost(refresher, null)));

        core.Tell(new BeginRefresh(null));
        ExpectMsg("A refresh needs a refresh token.");
        core.Tell(new BeginRefresh("refresh-1")); // nothing was started by the refused call
        ExpectMsg("begun");
        AwaitAssert(() => Assert.Equal(["refresh-1"], refresher.Seen));
    }

    [Fact]
    public void An_acquiring_core_refuses_a_refresh_token()
    {
        var acquirer = new PendingAcquirer();
        var core = Sys.ActorOf(Props.Create(() => new CoreHost(null, acquirer)));

        core.Tell(new BeginRefresh("refresh-1"));
        ExpectMsg("An acquisition takes no refresh token.");
        core.Tell(new BeginRefresh(null));
        ExpectMsg("begun");
        AwaitAssert(() => Assert.Equal(1, acquirer.Calls));
    }

    private sealed record BeginRefresh(string? RefreshToken);

    private sealed class CoreHost : ReceiveActor, IWithTimers
    {
        public ITimerScheduler Timers { get; set; } = null!;

        public CoreHost(ITokenRefresher? refresher, ITokenAcquirer? acquirer)
        {
            var settings = new RefreshCoreSettings(TimeSpan.FromMinutes(5), 0, _ => TimeSpan.FromMinutes(1));
            var core = refresher is not null
                ? new RefreshCore(refresher, settings, this, Self, Context.GetLogger())
                : new RefreshCore(acquirer!, settings, this, Self, Context.GetLogger());
            Receive<BeginRefresh>(m =>
            {
                try
                {
                    core.Begin(m.RefreshToken);
                    Sender.Tell("begun");
                }
                catch (InvalidOperationException e)
                {
                    Sender.Tell(e.Message);
                }
            });
        }
    }

    private sealed class PendingRefresher : ITokenRefresher
    {
        private readonly List<string> _seen = [];

        public IReadOnlyList<string> Seen { get { lock (_seen) return _seen.ToArray(); } }

        public Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
        {
            lock (_seen) _seen.Add(refreshToken);
            return new TaskCompletionSource<TokenRefreshResult>().Task; // never answers: the refresh stays running
        }
    }

    private sealed class PendingAcquirer : ITokenAcquirer
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public Task<TokenRefreshResult> AcquireAsync(CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _calls);
            return new TaskCompletionSource<TokenRefreshResult>().Task;
        }
    }
}
