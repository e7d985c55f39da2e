using System.CommandLine;
using System.Text.Json;
using Courier.Errors;
using Courier.Host.Cli;
using Courier.Transfers;
using Spectre.Console;

namespace Courier.Host.Transfers;

/// <summary>One transfer as a command runs it: what to start, and what to tell the user when it stops half-way.</summary>
/// <param name="Id">The transfer's id (its events are printed, no other's).</param>
/// <param name="Label">Names the transfer on the progress bar or lines.</param>
/// <param name="Start">Starts the transfer with the given progress receiver and cancellation.</param>
internal sealed record TransferJob(long Id, string Label,
    Func<ITransferClient, IProgress<TransferProgress>?, CancellationToken, Task<TransferCompleted>> Start)
{
    /// <summary>The sentence after "Cancelled:", given the state kept for a resume (null when none).</summary>
    public required Func<string?, string> Cancelled { get; init; }
}

/// <summary>
/// What <c>upload</c> and <c>download</c> share: the runtime, resumes printed as they happen (the runtime's
/// <see cref="TransferResumed"/> and <see cref="TransferRetryScheduled"/> events: the CLI knows no file names of its own), the progress display, the
/// summary (a line, or one JSON object with <c>--json</c>) on stdout, and errors as one line on stderr with an exit code.
/// </summary>
internal static class TransferRun
{
    // The summary is data for scripts: keep quotes and non-ASCII names readable.
    private static readonly JsonSerializerOptions SummaryJson = new(JsonSerializerOptions.Web)
    {
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static async Task<int> RunAsync(ParseResult parse, SharedOptions shared, TransferJob job, CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string?>? defaults = null)
    {
        var json = parse.GetValue(shared.Json);
        var verbose = parse.GetValue(shared.Verbose);
        var interactive = shared.IsInteractive(parse);
        var mode = json ? ProgressMode.None : interactive ? ProgressMode.Live : ProgressMode.Lines;
        var stderr = Consoles.StandardError(interactive);

        await using var runtime = await RuntimeHost.StartAsync(shared.ToConfiguration(parse), verbose, cancellationToken: cancellationToken,
            quietLevel: Microsoft.Extensions.Logging.LogLevel.Critical, defaults: defaults);
        RuntimeEvents.Print(runtime.System, stderr, showTransfer: id => id == job.Id);
        try
        {
            var completed = await TransferDisplay.RunAsync(stderr, mode, job.Label, progress => job.Start(runtime.Client, progress, cancellationToken));
            await Console.Out.WriteLineAsync(json ? JsonSerializer.Serialize(Summary(completed), SummaryJson) : Describe(completed));
            return ExitCodes.Success;
        }
        catch (TransferCanceledException cancelled)
        {
            stderr.MarkupLineInterpolated($"[yellow]Cancelled[/]: {job.Cancelled(cancelled.PartialPath)}");
            return ExitCodes.Cancelled;
        }
        catch (TransferException error)
        {
            var kept = error.PartialPath; // what the runtime kept for a resume
            stderr.MarkupLineInterpolated($"[red]{error.Message}[/]{(kept is null ? "" : $" ('{kept}' is kept: run the same command again to resume)")}");
            if (verbose) stderr.WriteException(error);
            return ExitCodeFor(error);
        }
    }

    /// <summary>
    /// 3 when authentication failed underneath; 2 when the command named a path that is not there (or a bad argument the
    /// runtime caught); 1 for every other failure.
    /// </summary>
    internal static int ExitCodeFor(TransferException error)
    {
        for (Exception? inner = error; inner is not null; inner = inner.InnerException)
            if (inner is AuthenticationFailedException) return ExitCodes.AuthenticationFailed;
        return error.Failure is TransferFailure.SourceMissing or TransferFailure.SourceIsDirectory or TransferFailure.DestinationFolderMissing
            or TransferFailure.InvalidRequest
            ? ExitCodes.Usage
            : ExitCodes.SomeFailed;
    }

    /// <summary>The <see cref="TransferCompleted"/> fields a script needs.</summary>
    internal static object Summary(TransferCompleted completed) => new
    {
        direction = completed.Direction == TransferDirection.Download ? "download" : "upload",
        path = completed.Path,
        bytes = completed.Bytes,
        durationMs = Math.Round(completed.Duration.TotalMilliseconds, 1),
        sha256 = completed.Sha256,
        location = completed.Location?.AbsoluteUri,
        response = completed.ResponseBody,
    };

    private static string Describe(TransferCompleted completed)
    {
        var rate = TransferDisplay.FormatRate(completed.Bytes, completed.Duration);
        var what = completed.Direction == TransferDirection.Download
            ? $"Downloaded {TransferDisplay.FormatBytes(completed.Bytes)} to '{completed.Path}'"
            : $"Uploaded '{completed.Path}' ({TransferDisplay.FormatBytes(completed.Bytes)}){(completed.Location is { } at ? $" to {Diagnostics.SafeUrl.Format(at)}" : "")}";
        return $"{what} in {completed.Duration.TotalSeconds:0.00} s ({rate}){(completed.Sha256 is { } sha ? $"; sha-256 {sha}" : "")}";
    }
}
