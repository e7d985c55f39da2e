using System.CommandLine;
using System.Diagnostics;
using Akka.Actor;
using Courier.Auth;
using Courier.Host.Cli;
using Courier.Host.Transfers;
using Courier.Requests;
using Courier.Sandbox;
using Courier.Transfers;
using Spectre.Console;

namespace Courier.Host.Demo;

/// <summary>
/// The showcase: the Sandbox server in-process, a concurrent batch through the runtime with faults injected by the server
/// and an access token that expires mid-run, then a file up with tus and back down, each interrupted once by the server
/// and resumed (<see cref="DemoTransfers"/>); each retry, resume and refresh printed as it happens, then a summary.
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
        var interactive = shared.IsInteractive(parse);
        var console = Consoles.StandardOutput(interactive);
        await using var sandbox = await SandboxServer.StartAsync(cancellationToken: cancellationToken);
        var (access, refresh, _) = sandbox.Auth.IssueTokens();
        console.MarkupLineInterpolated($"[bold]Sandbox[/] listening on {sandbox.BaseAddress} (signed in as demo; the access token will expire mid-run)");

        using var tally = new MetricsTally();
        // The demo prints every retry, resume, refresh and failure itself: the runtime's own error logs would say it twice.
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
        }, cancellationToken, quietLevel: Microsoft.Extensions.Logging.LogLevel.Critical);
        RuntimeEvents.Print(runtime.System, console);
        var resumes = new EventTally<TransferRetryScheduled>(runtime.System);
        var total = Stopwatch.StartNew();

        console.MarkupLineInterpolated($"[bold]Batch[/]: {Calls} calls, {Concurrency} in flight at most; the server fails some with 503/429 and cuts some connections mid-response.");
        var batch = Stopwatch.StartNew();
        var failed = await RunBatchAsync(console, runtime.Client, sandbox, cancellationToken);
        batch.Stop();

        DemoTransferResult? transfers = null;
        try
        {
            transfers = await DemoTransfers.RunAsync(console, interactive ? ProgressMode.Live : ProgressMode.Lines, runtime.Client, sandbox.BaseAddress, cancellationToken);
        }
        catch (TransferException ex)
        {
            console.MarkupLineInterpolated($"[red]transfer failed[/]: {ex.Message}");
        }
        total.Stop();

        var status = await runtime.Client.GetTokenStatusAsync(cancellationToken);
        var transferFailures = transfers is null ? 1 : transfers.Verified ? 0 : 1;
        var table = new Table().Border(TableBorder.Rounded).AddColumns("Summary", "Value");
        table.AddRow("calls (batch)", $"{Calls} ({Calls - failed} succeeded)");
        table.AddRow("HTTP attempts (batch and transfers)", tally.Attempts.ToString());
        table.AddRow("retries (calls)", tally.Retries.ToString());
        table.AddRow("transfer resumes", resumes.Count.ToString());
        table.AddRow("token refreshes", status.Refreshes.ToString());
        table.AddRow("server: refreshes / reuse events", $"{sandbox.Auth.RefreshesPerformed} / {sandbox.Auth.ReuseEvents}");
        table.AddRow("throughput (batch)", $"{Calls / batch.Elapsed.TotalSeconds:0} calls/s");
        if (transfers is not null)
        {
            table.AddRow("bytes transferred", $"{TransferDisplay.FormatBytes(transfers.BytesUp + transfers.BytesDown)} ({TransferDisplay.FormatBytes(transfers.BytesUp)} up, {TransferDisplay.FormatBytes(transfers.BytesDown)} down)");
            table.AddRow("throughput (transfers)", $"{TransferDisplay.FormatRate(transfers.BytesUp, transfers.Up)} up, {TransferDisplay.FormatRate(transfers.BytesDown, transfers.Down)} down");
            table.AddRow("sha-256 (source = download)", transfers.Verified ? $"match ({transfers.Sha256[..16]}…)" : "MISMATCH");
        }
        table.AddRow("failures", $"{failed} call(s), {transferFailures} transfer(s)");
        table.AddRow("time", $"{total.Elapsed.TotalSeconds:0.00} s");
        console.Write(table);
        return failed == 0 && transferFailures == 0 ? ExitCodes.Success : ExitCodes.SomeFailed;
    }

    /// <summary>Sends the batch; a third of the way through, the server expires every access token. Returns the failures.</summary>
    private static async Task<int> RunBatchAsync(IAnsiConsole console, IHttpRuntimeClient client, SandboxServer sandbox, CancellationToken cancellationToken)
    {
        var completed = 0;
        var expired = 0;
        var failed = 0;
        var calls = Enumerable.Range(0, Calls).Select(async i =>
        {
            try
            {
                using var response = await client.SendAsync(CreateCall(sandbox.BaseAddress, i), cancellationToken);
            }
            catch (Errors.HttpCallException ex)
            {
                Interlocked.Increment(ref failed);
                console.MarkupLineInterpolated($"[red]failed[/] {ex.Message}");
            }
            if (Interlocked.Increment(ref completed) == Calls / 3 && Interlocked.Exchange(ref expired, 1) == 0)
            {
                sandbox.Auth.ExpireAccessTokens();
                console.MarkupLine("[blue]server[/]: every access token issued so far has just expired");
            }
        });
        await Task.WhenAll(calls);
        return failed;
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
