using Akka.Actor;
using Courier.Auth;
using Courier.Requests;
using Courier.Transfers;
using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary>Prints the runtime's events (retries, transfer resumes, refreshes, authentication failures) as they happen.</summary>
internal sealed class RuntimeEventPrinter : ReceiveActor
{
    public RuntimeEventPrinter(IAnsiConsole console, Func<long, bool> showRetry, Func<long, bool> showTransfer)
    {
        Receive<RetryScheduled>(m =>
        {
            if (showRetry(m.CallId))
                console.MarkupLineInterpolated($"[yellow]retry[/] {m.Call.Method.Method} {Courier.Diagnostics.SafeUrl.Format(m.Call.Uri)} in {m.Delay.TotalMilliseconds:0} ms (retry {m.Retry}/{m.MaxRetries}): {m.Reason}");
        });
        Receive<TransferRetryScheduled>(m =>
        {
            if (showTransfer(m.TransferId))
                console.MarkupLineInterpolated($"[yellow]transfer {m.TransferId} interrupted[/]: {m.Reason.TrimEnd('.')}; retry {m.Retry}/{m.MaxRetries} in {m.Delay.TotalMilliseconds:0} ms from byte {m.Offset:N0}");
        });
        Receive<TransferResumed>(m =>
        {
            if (!showTransfer(m.TransferId)) return;
            if (m.Direction == TransferDirection.Download)
                console.MarkupLineInterpolated($"[blue]resuming[/]: '{m.PartialPath}' has {Transfers.TransferDisplay.FormatBytes(m.Offset)}; asking the server for the rest");
            else
                console.MarkupLineInterpolated($"[blue]resuming[/]: '{m.PartialPath}' holds the upload URL of an earlier run; asking the server where it stopped");
        });
        Receive<TokenRefreshed>(m =>
            console.MarkupLineInterpolated($"[green]token refreshed[/] generation {m.Generation} ({m.Trigger}, {m.Attempts} request(s) to the token endpoint, {m.Waiting} call(s) were waiting)"));
        Receive<TokenRefreshFailed>(m =>
            console.MarkupLineInterpolated($"[yellow]token refresh failed[/] (attempt {m.Attempt}): {m.Reason}{(m.RetryIn is { } d ? $"; retrying in {d.TotalMilliseconds:0} ms" : "")}"));
        Receive<AuthenticationFailed>(m => console.MarkupLineInterpolated($"[red]authentication failed[/]: {m.Reason}"));
    }
}

/// <summary>Starts a <see cref="RuntimeEventPrinter"/> subscribed to the runtime's events.</summary>
internal static class RuntimeEvents
{
    /// <param name="system">The runtime's actor system.</param>
    /// <param name="console">Where the lines go.</param>
    /// <param name="showRetry">Which calls' retries to print (by call id); null for all.</param>
    /// <param name="showTransfer">Which transfers' resumes to print (by transfer id); null for all.</param>
    public static IActorRef Print(ActorSystem system, IAnsiConsole console, Func<long, bool>? showRetry = null, Func<long, bool>? showTransfer = null)
    {
        // From a delegate: Props.Create(() => ...) compiles an expression tree, which a one-shot command pays for at start.
        var printer = system.ActorOf(Courier.Internal.FactoryProducer<RuntimeEventPrinter>.Props(() => new RuntimeEventPrinter(console, showRetry ?? (_ => true), showTransfer ?? (_ => true))));
        foreach (var type in new[] { typeof(RetryScheduled), typeof(TransferRetryScheduled), typeof(TransferResumed), typeof(TokenRefreshed), typeof(TokenRefreshFailed), typeof(AuthenticationFailed) })
            system.EventStream.Subscribe(printer, type);
        return printer;
    }
}
