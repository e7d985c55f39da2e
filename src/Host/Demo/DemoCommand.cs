using System.CommandLine;
using System.Diagnostics;
using Akka.Actor;
using Courier.Auth;
using Courier.Host.Cli;
using Courier.Requests;
using Courier.Sandbox;
using Spectre.Console;

namespace Courier.Host.Demo;

/// <summary>
/// The showcase: the Sandbox server in-process, a concurrent batch through the runtime with faults injected by the server
/// and an access token that expires mid-run, each retry and refresh printed as it happens, then a summary.
/// </summary>
internal static class DemoCommand
{
    private const int Calls = 600;
    private const int Concurrency = 64;

    public static Command Create(SharedOptions shared)
    {
        var command = new Command("demo", "Run the showcase against the in-process Sandbox server (the default command).");
        command.SetAction((parse, ct) => RunAsync(parse, shared, ct));
        return command;
    }

    public static async Task<int> RunAsync(ParseResult parse, SharedOptions shared, CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        await using var sandbox = await SandboxServer.StartAsync(cancellationToken: cancellationToken);
        var (access, refresh, _) = sandbox.Auth.IssueTokens();
        console.MarkupLineInterpolated($"[bold]Sandbox[/] listening on {sandbox.BaseAddress} (signed in as demo; the access token will expire mid-run)");

        using var tally = new MetricsTally();
        await using var runtime = await RuntimeHost.StartAsync(shared.ToConfiguration(parse), parse.GetValue(shared.Verbose), options =>
        {
            options.BaseAddress = sandbox.BaseAddress;
            options.MaxConcurrentCalls = Concurrency;
            options.Auth = new TokenOptions
            {
                RefreshEndpoint = new Uri(sandbox.BaseAddress, "/auth/refresh"),
                AccessToken = access,
                RefreshToken = refresh,
            };
        }, cancellationToken);
        RuntimeEvents.Print(runtime.System, console);

        console.MarkupLineInterpolated($"[bold]Batch[/]: {Calls} calls, {Concurrency} in flight at most; the server fails some with 503/429 and cuts some connections mid-response.");
        var stopwatch = Stopwatch.StartNew();
        var completed = 0;
        var expired = 0;
        var failed = 0;
        var calls = Enumerable.Range(0, Calls).Select(async i =>
        {
            try
            {
                using var response = await runtime.Client.SendAsync(CreateCall(sandbox.BaseAddress, i), cancellationToken);
            }
            catch (Errors.HttpCallException ex)
            {
                Interlocked.Increment(ref failed);
                console.MarkupLineInterpolated($"[red]failed[/] {ex.Message}");
            }
            // A third of the way through, the server expires every access token it has issued.
            if (Interlocked.Increment(ref completed) == Calls / 3 && Interlocked.Exchange(ref expired, 1) == 0)
            {
                sandbox.Auth.ExpireAccessTokens();
                console.MarkupLine("[blue]server[/]: every access token issued so far has just expired");
            }
        });
        await Task.WhenAll(calls);
        stopwatch.Stop();

        var status = await runtime.Client.GetTokenStatusAsync(cancellationToken);
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Summary", "Value");
        table.AddRow("calls", Calls.ToString());
        table.AddRow("succeeded", (Calls - failed).ToString());
        table.AddRow("failed", failed.ToString());
        table.AddRow("attempts", tally.Attempts.ToString());
        table.AddRow("retries", tally.Retries.ToString());
        table.AddRow("token refreshes", status.Refreshes.ToString());
        table.AddRow("server: refreshes / reuse events", $"{sandbox.Auth.RefreshesPerformed} / {sandbox.Auth.ReuseEvents}");
        table.AddRow("time", $"{stopwatch.Elapsed.TotalSeconds:0.00} s");
        table.AddRow("throughput", $"{Calls / stopwatch.Elapsed.TotalSeconds:0} calls/s");
        console.Write(table);
        return failed == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
    }

    /// <summary>A protected call; some carry fault-injection headers the Sandbox obeys.</summary>
    private static HttpCall CreateCall(Uri baseAddress, int i)
    {
        var key = $"demo-{i}";
        var call = HttpCall.Get(new Uri(baseAddress, $"/secure/orders/{i}")).WithHeader(SandboxHeaders.Key, key);
        if (i % 29 == 0)
            return call.WithHeader(SandboxHeaders.FailFirst, "2").WithHeader(SandboxHeaders.FaultStatus, "503");
        if (i % 37 == 0)
            return call.WithHeader(SandboxHeaders.FailFirst, "1").WithHeader(SandboxHeaders.FaultStatus, "429").WithHeader(SandboxHeaders.RetryAfter, "1");
        if (i % 41 == 0)
            return call.WithHeader(SandboxHeaders.AbortFirst, "1");
        if (i % 53 == 0)
            return new HttpCall(HttpMethod.Post, new Uri(baseAddress, $"/secure/payments/{i}"))
            {
                Body = RequestBody.Json(new { order = i, amount = 42 }),
                Headers = [new(SandboxHeaders.Key, key), new(SandboxHeaders.AbortFirst, "1"), new("Idempotency-Key", $"payment-{i}")],
            };
        return call;
    }
}
