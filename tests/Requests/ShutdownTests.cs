using Courier.Errors;
using Courier.Requests;
using Courier.Transfers;

namespace Courier.Tests.Requests;

/// <summary>
/// Shutdown: every call and every transfer made through the runtime is answered, whether its coordinator was running
/// it, had it queued, had it in its mailbox, or was already gone. Each test waits with a bounded WaitAsync: a hang fails.
/// </summary>
public sealed class ShutdownTests : IAsyncLifetime
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(15);
    private static readonly Uri Url = new("http://127.0.0.1:9/never");

    private readonly ActorSystem _system = ActorSystem.Create("shutdown-" + Guid.NewGuid().ToString("N")[..8],
        "akka.loglevel = WARNING\nakka.log-dead-letters = off\nakka.log-dead-letters-during-shutdown = off");

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _system.Terminate();

    // Regression (issue 9, item 8): the facade Told the coordinator and waited; a call the coordinator never answered
    // (its message was still in the mailbox when it stopped, and went to dead letters) hung for ever.
    [Fact]
    public async Task A_call_the_coordinator_took_but_never_answered_is_answered_when_it_stops()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var coordinator = _system.ActorOf(Props.Create(() => new BlackHole(received)));
        var client = new HttpRuntimeClient(_ => Task.FromResult(coordinator), _ => Task.FromResult<IActorRef?>(null), new HttpRuntimeOptions());

        var pending = client.ExecuteAsync(HttpCall.Get(Url));
        await received.Task.WaitAsync(Bound);
        Assert.False(pending.IsCompleted);
        await coordinator.GracefulStop(Bound);

        var failed = Assert.IsType<CallFailed>(await pending.WaitAsync(Bound));
        Assert.IsType<RuntimeUnavailableException>(failed.Error);
    }

    // Regression (issue 9, item 8), under load: 1,020 calls, the actor system terminating while they are being made.
    [Fact]
    public async Task Calls_made_while_the_runtime_shuts_down_are_all_answered()
    {
        var handler = new HangingHandler();
        var client = HttpRuntime.Start(_system, new HttpRuntimeOptions { MaxConcurrentCalls = 16 }, handler);
        var calls = new List<Task<CallResult>>();
        for (var i = 0; i < 1020; i++)
        {
            calls.Add(Task.Run(() => client.ExecuteAsync(HttpCall.Get(Url))));
            if (i == 500) _ = _system.Terminate();
        }

        var results = await Task.WhenAll(calls).WaitAsync(Bound);
        Assert.All(results, r => Assert.IsType<RuntimeUnavailableException>(Assert.IsType<CallFailed>(r).Error));
    }

    // Regression (issue 9, item 10): the TransferCoordinator had no PostStop; a download running when it stopped was never answered.
    [Fact]
    public async Task A_download_running_when_the_transfer_coordinator_stops_is_answered()
    {
        var handler = new HangingHandler();
        var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        var actors = HttpRuntime.StartActors(_system, new HttpRuntimeOptions(), () => client);
        var folder = Directory.CreateTempSubdirectory("courier-shutdown-").FullName;
        try
        {
            var answer = actors.Transfers!.Ask<TransferResult>(new StartDownload(new DownloadRequest(Url, Path.Combine(folder, "file.bin"))), Bound);
            await handler.Seen.WaitAsync(Bound);
            await actors.Transfers!.GracefulStop(Bound);

            var failed = Assert.IsType<TransferFailed>(await answer);
            Assert.Equal(TransferFailure.RuntimeUnavailable, failed.Error.Failure);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    // Regression (issue 9, item 10): TransferClient asked with no timeout and no termination check.
    [Fact]
    public async Task A_transfer_whose_coordinator_stops_without_answering_fails_instead_of_hanging()
    {
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var coordinator = _system.ActorOf(Props.Create(() => new BlackHole(received)));
        var transfers = new TransferClient(_ => Task.FromResult<IActorRef?>(coordinator), null);

        var pending = transfers.DownloadAsync(new DownloadRequest(Url, Path.Combine(Path.GetTempPath(), "never-written.bin")));
        await received.Task.WaitAsync(Bound);
        await coordinator.GracefulStop(Bound);

        var error = await Assert.ThrowsAsync<TransferException>(() => pending.WaitAsync(Bound));
        Assert.Equal(TransferFailure.RuntimeUnavailable, error.Failure);

        // And a transfer started after the stop fails at once.
        var late = await Assert.ThrowsAsync<TransferException>(() =>
            transfers.DownloadAsync(new DownloadRequest(Url, Path.Combine(Path.GetTempPath(), "never-written.bin"))).WaitAsync(Bound));
        Assert.Equal(TransferFailure.RuntimeUnavailable, late.Failure);
    }

    /// <summary>Takes every message and answers none, as a coordinator whose mailbox is dropped when it stops.</summary>
    private sealed class BlackHole : ReceiveActor
    {
        public BlackHole(TaskCompletionSource received) => ReceiveAny(_ => received.TrySetResult());
    }

    private sealed class HangingHandler : HttpMessageHandler
    {
        private readonly TaskCompletionSource _seen = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task Seen => _seen.Task;

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            _seen.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            throw new InvalidOperationException("unreachable");
        }
    }
}
