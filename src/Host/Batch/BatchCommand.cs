using System.CommandLine;
using System.Text.Json;
using Courier.Host.Cli;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Spectre.Console;

namespace Courier.Host.Batch;

/// <summary><c>batch INPUT.jsonl --out RESULTS.jsonl [--concurrency N] [--resume]</c>.</summary>
internal static class BatchCommand
{
    public static Command Create(SharedOptions shared)
    {
        var input = new Argument<string>("INPUT") { Description = "JSON lines: {\"id\", \"method\"?, \"url\", \"headers\"?, \"body\"?} per line." };
        var output = new Option<string>("--out", "-o") { Description = "Results file (JSON lines), written as results arrive.", Required = true };
        var resume = new Option<bool>("--resume") { Description = "Skip ids already answered in the results file (rerun a killed batch without repeating work)." };
        var command = new Command("batch", "Run many calls concurrently from a JSON-lines file.") { input, output, resume };
        command.SetAction((parse, ct) => RunAsync(parse, shared, parse.GetValue(input)!, parse.GetValue(output)!, parse.GetValue(resume), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, SharedOptions shared, string input, string output, bool resume, CancellationToken cancellationToken)
    {
        if (!File.Exists(input)) throw new UsageException($"The input file '{input}' does not exist.");
        var configuration = shared.ToConfiguration(parse);
        await using var runtime = await RuntimeHost.StartAsync(configuration, parse.GetValue(shared.Verbose), cancellationToken: cancellationToken);
        var options = runtime.Services.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value;
        var concurrency = options.MaxConcurrentCalls;
        var console = Consoles.StandardError(shared.IsInteractive(parse));
        var json = parse.GetValue(shared.Json);
        if (parse.GetValue(shared.Verbose)) RuntimeEvents.Print(runtime.System, console);

        BatchSummary summary;
        if (shared.IsInteractive(parse))
        {
            summary = await console.Status().StartAsync("starting", async status =>
                await BatchRunner.RunAsync(runtime.Client, input, output, concurrency, resume, options.BaseAddress,
                    p => status.Status($"{p.Written:N0} answered ({p.Succeeded:N0} ok, {p.Failed:N0} failed, {p.Skipped:N0} skipped), {p.Read:N0} read"),
                    cancellationToken));
        }
        else
        {
            var lastReport = 0L;
            summary = await BatchRunner.RunAsync(runtime.Client, input, output, concurrency, resume, options.BaseAddress, p =>
            {
                // Plain output: a line every 10,000 results, no animation.
                if (p.Written / 10_000 > Interlocked.Read(ref lastReport))
                {
                    Interlocked.Exchange(ref lastReport, p.Written / 10_000);
                    if (!json) Console.Error.WriteLine($"{p.Written} answered ({p.Succeeded} ok, {p.Failed} failed, {p.Skipped} skipped)");
                }
            }, cancellationToken);
        }

        if (json)
        {
            Console.Out.WriteLine(JsonSerializer.Serialize(new
            {
                lines = summary.Lines, succeeded = summary.Succeeded, failed = summary.Failed, malformed = summary.Malformed,
                skipped = summary.Skipped, cancelled = summary.Cancelled, seconds = Math.Round(summary.Elapsed.TotalSeconds, 3),
                callsPerSecond = Math.Round((summary.Succeeded + summary.Failed) / Math.Max(summary.Elapsed.TotalSeconds, 0.001), 1),
            }, JsonSerializerOptions.Web));
        }
        else
        {
            Console.Error.WriteLine($"{summary.Lines} lines: {summary.Succeeded} succeeded, {summary.Failed} failed ({summary.Malformed} malformed), " +
                $"{summary.Skipped} skipped, in {summary.Elapsed.TotalSeconds:0.00} s{(summary.Cancelled ? " (cancelled)" : "")}; results in {output}");
        }

        if (summary.Cancelled) return ExitCodes.Cancelled;
        if (summary.AuthenticationFailures > 0) return ExitCodes.AuthenticationFailed;
        return summary.Failed > 0 ? ExitCodes.SomeFailed : ExitCodes.Success;
    }
}
