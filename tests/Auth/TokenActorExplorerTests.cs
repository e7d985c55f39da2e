using System.Diagnostics;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using Courier.Auth;
using Xunit;
using Xunit.Abstractions;

namespace Courier.Tests.Auth;

/// <summary>
/// The schedule explorer (issue 9): thousands of seeded random interleavings of calls, refusals, refresh answers, time,
/// store writes, sign-in and sign-out against one TokenActor each, every invariant checked after every step.
/// </summary>
/// <remarks>
/// <c>COURIER_EXPLORER_SCHEDULES</c> sets how many schedules run (default 2,000, within a 20 s budget);
/// <c>COURIER_EXPLORER_FIRST_SEED</c> where the seeds start (default 1, so the suite is deterministic);
/// <c>COURIER_EXPLORER_SEED</c> replays one schedule and prints its trace.
/// </remarks>
public sealed class TokenActorExplorerTests : TestKit
{
    private readonly ITestOutputHelper _output;

    public TokenActorExplorerTests(ITestOutputHelper output)
        : base(Config, output: output) => _output = output;

    private const string Config = """
        akka.scheduler.implementation = "Akka.TestKit.TestScheduler, Akka.TestKit"
        akka.loglevel = OFF
        akka.stdout-loglevel = OFF
        akka.log-dead-letters = off
        akka.actor.deployment { "/*/store-writer" { dispatcher = akka.test.calling-thread-dispatcher } }
        """;

    private const int Steps = 40;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(20);

    [Fact]
    public void Thousands_of_random_schedules_keep_every_refresh_invariant()
    {
        var counter = Sys.ActorOf(Props.Create(() => new CountEvents(TokenActorExplorer.RefreshFailures))
            .WithDispatcher("akka.test.calling-thread-dispatcher"));
        Sys.EventStream.Subscribe(counter, typeof(TokenRefreshFailed));

        if (Environment.GetEnvironmentVariable("COURIER_EXPLORER_SEED") is { Length: > 0 } replay)
        {
            var explorer = new TokenActorExplorer(Sys, int.Parse(replay));
            try
            {
                explorer.Run(Steps);
            }
            finally
            {
                _output.WriteLine(explorer.TraceText);
            }
            return;
        }

        var schedules = int.TryParse(Environment.GetEnvironmentVariable("COURIER_EXPLORER_SCHEDULES"), out var n) ? n : 2000;
        var first = int.TryParse(Environment.GetEnvironmentVariable("COURIER_EXPLORER_FIRST_SEED"), out var f) ? f : 1;
        var clock = Stopwatch.StartNew();
        var ran = 0;
        for (var seed = first; seed < first + schedules && clock.Elapsed < Budget; seed++, ran++)
        {
            try
            {
                new TokenActorExplorer(Sys, seed).Run(Steps);
            }
            catch (ExplorerFailure failure)
            {
                _output.WriteLine(failure.Message);
                throw;
            }
        }
        _output.WriteLine($"{ran} schedules of {Steps} steps (seeds {first}..{first + ran - 1}) in {clock.Elapsed.TotalSeconds:0.0} s: no invariant broken.");
        Assert.True(ran >= Math.Min(schedules, 500), $"only {ran} schedules ran within the {Budget.TotalSeconds} s budget");
    }

    private sealed class CountEvents : ReceiveActor
    {
        public CountEvents(TokenActorExplorer.EventCounter counter) => ReceiveAny(_ => counter.Increment());
    }
}
