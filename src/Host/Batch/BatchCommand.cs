using System.CommandLine;
using System.Text.Json;
using Courier.Host.Cli;
using Courier.Requests.Hosts;
using Spectre.Console;

namespace Courier.Host.Batch;

/// <summary>
/// <c>batch INPUT.jsonl --out RESULTS.jsonl [--resume | --retry-failed] [--resend-in-doubt] [--no-idempotency-keys]
/// [--body-base64] [--batch-id ID] [--rate N/unit] [--no-rate-limit-headers]</c>.
/// </summary>
internal static class BatchCommand
{
    public static Command Create(SharedOptions shared)
    {
        var input = new Argument<string>("INPUT") { Description = "JSON lines: {\"id\", \"method\"?, \"url\", \"headers\"?, \"body\"?} per line." };
        var output = new Option<string>("--out", "-o") { Description = "Results file (JSON lines), written as results arrive; RESULTS.sent beside it records what was sent.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Skip ids already answered in the results file (rerun a killed batch without repeating work)." };
        var retryFailed = new Option<bool>("--retry-failed") { Description = "Like --resume, and also rerun the ids whose latest result failed (new results are appended; the latest result of an id wins)." };
        var resendInDoubt = new Option<bool>("--resend-in-doubt") { Description = "Send again lines sent without an Idempotency-Key whose answer was never recorded (by default they are reported \"in doubt\")." };
        var noKeys = new Option<bool>("--no-idempotency-keys") { Description = "Do not give POST/PATCH lines an automatic, stable Idempotency-Key." };
        var bodyBase64 = new Option<bool>("--body-base64") { Description = "Write response bodies as base64 (bodyBase64) instead of JSON values or text." };
        var batchId = new Option<string?>("--batch-id") { Description = "The identity the idempotency keys derive from (default: a random one kept in RESULTS.sent)." };
        var rate = new Option<string?>("--rate") { Description = "Client-side rate limit per host, e.g. 200/s, 30/min, 5/100ms." };
        var noRateLimitHeaders = new Option<bool>("--no-rate-limit-headers") { Description = "Ignore the quota hosts announce (RateLimit, RateLimit-Remaining, X-RateLimit-*): no pause when it runs out, no pace from its policy." };
        var command = new Command("batch", "Run many calls concurrently from a JSON-lines file.")
        {
            input, output, resume, retryFailed, resendInDoubt, noKeys, bodyBase64, batchId, rate, noRateLimitHeaders,
        };
        command.SetAction((parse, ct) =>
        {
            var settings = new BatchSettings(parse.GetValue(input)!, parse.GetValue(output)!, 0, null)
            {
                Resume = parse.GetValue(resume),
                RetryFailed = parse.GetValue(retryFailed),
                ResendInDoubt = parse.GetValue(resendInDoubt),
                IdempotencyKeys = !parse.GetValue(noKeys),
                BodyBase64 = parse.GetValue(bodyBase64),
                BatchId = parse.GetValue(batchId),
            };
            return RunAsync(parse, shared, settings, parse.GetValue(rate), parse.GetValue(noRateLimitHeaders), ct);
        });
        return command;
    }

    /// <summary>The <c>--rate</c> value, checked: a usage error naming the option and the expected form.</summary>
    internal static RateLimit? ParseRate(string? text)
    {
        if (text is null) return null;
        try
        {
            return RateLimit.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new UsageException($"--rate {ex.Message}");
        }
    }

    private static async Task<int> RunAsync(ParseResult parse, SharedOptions shared, BatchSettings settings, string? rate, bool noRateLimitHeaders,
        CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.InputPath)) throw new UsageException($"The input file '{settings.InputPath}' does not exist.");
        ParseRate(rate); // a typed usage error before anything starts
        if (settings.BatchId is { Length: 0 }) throw new UsageException("--batch-id must not be empty.");
        var configuration = shared.ToConfiguration(parse);
        // Per-host politeness (read by the runtime's Courier:Hosts section): adaptive concurrency and rate are on for batch.
        configuration.TryAdd("Courier:Hosts:AdaptiveConcurrency", "true");
        configuration.TryAdd("Courier:Hosts:AdaptiveRate", "true");
        if (rate is not null) configuration["Courier:Hosts:RateLimit"] = rate;
        if (noRateLimitHeaders) configuration["Courier:Hosts:UseRateLimitHeaders"] = "false";
        var verbose = parse.GetValue(shared.Verbose);
        // Failures are summarised at the end and detailed in the results file: no log line per failed call.
        await using var runtime = await RuntimeHost.StartAsync(configuration, verbose, cancellationToken: cancellationToken,
            quietLevel: Microsoft.Extensions.Logging.LogLevel.Critical, ownThreads: true);
        var options = runtime.Options;
        settings = settings with { Concurrency = options.MaxConcurrentCalls, BaseAddress = options.BaseAddress };
        var console = Consoles.StandardError(shared.IsInteractive(parse));
        var json = parse.GetValue(shared.Json);
        var printer = verbose ? RuntimeEvents.Print(runtime.System, console) : null; // every retry, with its reason

        BatchSummary summary;
        if (shared.IsInteractive(parse))
        {
            summary = await console.Status().StartAsync("starting", async status =>
                await BatchRunner.RunAsync(runtime.Client, settings,
                    p => status.Status($"{p.Written:N0} answered ({p.Succeeded:N0} ok, {p.Failed:N0} failed, {p.Skipped:N0} skipped), {p.Read:N0} read"),
                    cancellationToken));
        }
        else
        {
            var lastReport = 0L;
            summary = await BatchRunner.RunAsync(runtime.Client, settings, p =>
            {
                // Plain output: a line every 10,000 results, no animation.
                if (p.Written / 10_000 > Interlocked.Read(ref lastReport))
                {
                    Interlocked.Exchange(ref lastReport, p.Written / 10_000);
                    if (!json) Console.Error.WriteLine($"{p.Written} answered ({p.Succeeded} ok, {p.Failed} failed, {p.Skipped} skipped)");
                }
            }, cancellationToken);
        }

        // The printer is an actor: let it print every event published before the last answer, so that the summary
        // comes after the attempts it sums up, not among them.
        if (printer is not null) await Akka.Actor.Futures.Ask<Akka.Actor.ActorIdentity>(printer, new Akka.Actor.Identify(null), TimeSpan.FromSeconds(5));

        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                lines = summary.Lines, succeeded = summary.Succeeded, failed = summary.Failed, malformed = summary.Malformed,
                skipped = summary.Skipped, inDoubt = summary.InDoubt, cancelled = summary.Cancelled, seconds = Math.Round(summary.Elapsed.TotalSeconds, 3),
                callsPerSecond = Math.Round((summary.Succeeded + summary.Failed) / Math.Max(summary.Elapsed.TotalSeconds, 0.001), 1),
                failures = summary.FailureReasons.OrderByDescending(r => r.Value).ToDictionary(r => r.Key, r => r.Value),
            }, JsonSerializerOptions.Web));
        }
        else
        {
            Console.Error.WriteLine($"{summary.Lines} lines: {summary.Succeeded} succeeded, {summary.Failed} failed ({summary.Malformed} malformed), " +
                $"{summary.Skipped} skipped, in {summary.Elapsed.TotalSeconds:0.00} s{(summary.Cancelled ? " (cancelled)" : "")}; results in {settings.OutputPath}");
            Console.Error.Write(FailureTable(summary));
        }

        if (summary.Cancelled) return ExitCodes.Cancelled;
        if (summary.AuthenticationFailures > 0) return ExitCodes.AuthenticationFailed;
        return summary.Failed > 0 ? ExitCodes.SomeFailed : ExitCodes.Success;
    }

    /// <summary>The failures of the run grouped by reason, most frequent first (empty when none failed).</summary>
    internal static string FailureTable(BatchSummary summary)
    {
        if (summary.FailureReasons.Count == 0) return "";
        var text = new System.Text.StringBuilder("failures by reason (details in the results file):\n");
        var width = summary.FailureReasons.Keys.Max(k => k.Length);
        foreach (var (reason, count) in summary.FailureReasons.OrderByDescending(r => r.Value).ThenBy(r => r.Key, StringComparer.Ordinal))
        {
            text.Append("  ").Append(reason.PadRight(width)).Append("  ").Append(count);
            if (reason == BatchResults.InDoubtReason) text.Append("  (sent without an Idempotency-Key, no answer recorded: not resent; --resend-in-doubt sends them)");
            text.Append('\n');
        }
        return text.ToString();
    }
}
