using System.Collections.Concurrent;
using System.Text.Json;
using Courier.Host.Cli;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>
/// The CLI's batch as a child process, killed with SIGKILL mid-run and resumed, against an orders server that honours
/// <c>Idempotency-Key</c>: with keys no order is placed twice; without them the calls in flight at the kill are
/// reported "in doubt" and not sent again.
/// </summary>
public sealed class BatchExactlyOnceTests : IAsyncLifetime
{
    private const int Lines = 400;
    private const int HoldAfterEffects = 150;
    private OrdersServer _server = null!;
    private DirectoryInfo _folder = null!;

    public async Task InitializeAsync()
    {
        _server = await OrdersServer.StartAsync(HoldAfterEffects);
        _folder = Directory.CreateTempSubdirectory("courier-batch-kill-");
    }

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    private string WriteOrders()
    {
        var path = PathOf("orders.jsonl");
        File.WriteAllLines(path, Enumerable.Range(0, Lines).Select(i =>
            JsonSerializer.Serialize(new { id = $"order-{i}", method = "POST", url = new Uri(_server.BaseAddress, $"/orders/order-{i}"), body = new { n = i } })));
        return path;
    }

    private static List<JsonElement> ReadResults(string path) =>
        File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    /// <summary>Runs the batch until the server has placed <see cref="HoldAfterEffects"/> orders and holds 8 more unanswered, then SIGKILLs it.</summary>
    private async Task RunAndKillAsync(string input, string output, params string[] extra)
    {
        await using var cli = CliProcess.Start(["batch", input, "--out", output, "--concurrency", "16", .. extra]);
        var exited = cli.WaitAsync(TimeSpan.FromSeconds(60));
        var done = await Task.WhenAny(_server.Holding.WaitAsync(TimeSpan.FromSeconds(60)), exited);
        Assert.True(done != exited, $"the batch ended before the kill: {cli.Error}");
        await done; // rethrows a timeout
        await cli.KillAsync();
        _server.StopHolding();
    }

    [Fact]
    public async Task A_batch_of_POSTs_killed_mid_run_and_resumed_places_every_order_once_with_automatic_keys()
    {
        var input = WriteOrders();
        var output = PathOf("results.jsonl");

        await RunAndKillAsync(input, output);
        var held = _server.HeldIds.ToHashSet();
        Assert.True(ReadResults(output).Count < Lines);

        await using var resumed = CliProcess.Start("batch", input, "--out", output, "--resume", "--concurrency", "16");
        Assert.Equal(ExitCodes.Success, await resumed.WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.All(_server.Effects, e => Assert.Equal(1, e.Value)); // 0 duplicate effects
        Assert.Equal(Lines, _server.Effects.Count);
        var ids = ReadResults(output).Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(Lines, ids.Count);
        Assert.Equal(Lines, ids.Distinct().Count());
        Assert.All(held, id => Assert.True(_server.Requests[id] >= 2, $"{id} was in flight at the kill and is resent, with its key"));
        Assert.All(ReadResults(output), r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
    }

    [Fact]
    public async Task Without_keys_the_calls_in_flight_at_the_kill_are_reported_in_doubt_and_not_resent()
    {
        var input = WriteOrders();
        var output = PathOf("results.jsonl");

        await RunAndKillAsync(input, output, "--no-idempotency-keys");
        var held = _server.HeldIds.ToHashSet();
        Assert.InRange(held.Count, 8, 16);

        await using var resumed = CliProcess.Start("batch", input, "--out", output, "--resume", "--no-idempotency-keys", "--concurrency", "16");
        Assert.Equal(ExitCodes.SomeFailed, await resumed.WaitAsync(TimeSpan.FromSeconds(60)));

        Assert.All(_server.Requests, r => Assert.Equal(1, r.Value)); // nothing was sent twice
        var results = ReadResults(output);
        Assert.Equal(Lines, results.Count);
        Assert.Equal(Lines, results.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        var inDoubt = results.Where(r => r.TryGetProperty("error", out var e) && e.GetProperty("type").GetString() == "InDoubt")
            .Select(r => r.GetProperty("id").GetString()!).ToHashSet();
        Assert.Superset(held, inDoubt);
        Assert.All(results.Where(r => !inDoubt.Contains(r.GetProperty("id").GetString()!)), r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
        Assert.Contains($"in doubt  {inDoubt.Count}", resumed.Error);
        Assert.Contains("--resend-in-doubt", resumed.Error);

        // Asked to, a third run sends exactly the in-doubt lines, once each (one may never have reached the server).
        var before = _server.Requests.ToDictionary(r => r.Key, r => r.Value);
        await using var resend = CliProcess.Start("batch", input, "--out", output, "--resume", "--resend-in-doubt", "--no-idempotency-keys");
        Assert.Equal(ExitCodes.Success, await resend.WaitAsync(TimeSpan.FromSeconds(60)));
        var resent = _server.Requests.Where(r => r.Value != before.GetValueOrDefault(r.Key)).ToList();
        Assert.Equal(inDoubt.Order(), resent.Select(r => r.Key).Order());
        Assert.All(resent, r => Assert.Equal(before.GetValueOrDefault(r.Key) + 1, r.Value));
    }

    /// <summary>
    /// POST /orders/{id} places an order (an "effect"), or replays the stored answer for an <c>Idempotency-Key</c> it
    /// has seen. After <c>holdAfter</c> effects it stops answering (the effect is placed, the answer never comes),
    /// which is what a kill mid-call looks like to the server.
    /// </summary>
    private sealed class OrdersServer : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private readonly int _holdAfter;
        private readonly ConcurrentDictionary<string, string> _keys = new();
        private readonly TaskCompletionSource _release = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _holding = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _effects;
        private volatile bool _hold = true;

        private OrdersServer(WebApplication app, int holdAfter)
        {
            _app = app;
            _holdAfter = holdAfter;
        }

        public Uri BaseAddress { get; private set; } = null!;

        public ConcurrentDictionary<string, int> Effects { get; } = new();

        public ConcurrentDictionary<string, int> Requests { get; } = new();

        public ConcurrentBag<string> HeldIds { get; } = [];

        /// <summary>Completes once 8 calls are held unanswered.</summary>
        public Task Holding => _holding.Task;

        public void StopHolding()
        {
            _hold = false;
            _release.TrySetResult();
        }

        public static async Task<OrdersServer> StartAsync(int holdAfter)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var server = new OrdersServer(app, holdAfter);
            app.MapPost("/orders/{id}", server.PlaceAsync);
            await app.StartAsync();
            server.BaseAddress = new Uri(app.Urls.First());
            return server;
        }

        private async Task<IResult> PlaceAsync(string id, HttpContext context)
        {
            Requests.AddOrUpdate(id, 1, (_, n) => n + 1);
            var key = context.Request.Headers["Idempotency-Key"].ToString();
            if (key.Length > 0 && !_keys.TryAdd(key, id))
                return Results.Json(new { order = _keys[key], replayed = true });

            Effects.AddOrUpdate(id, 1, (_, n) => n + 1);
            if (Interlocked.Increment(ref _effects) > _holdAfter && _hold)
            {
                HeldIds.Add(id);
                if (HeldIds.Count >= 8) _holding.TrySetResult();
                try
                {
                    await _release.Task.WaitAsync(context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return Results.Empty; // the client is gone
                }
            }
            return Results.Json(new { order = id, replayed = false });
        }

        public async ValueTask DisposeAsync()
        {
            _release.TrySetResult();
            await _app.DisposeAsync();
        }
    }
}
