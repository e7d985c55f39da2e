using Akka.Actor;
using Courier.Auth;
using Courier.Requests;
using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary>Prints the runtime's events (retries, refreshes, authentication failures) as they happen.</summary>
internal sealed class RuntimeEventPrinter : ReceiveActor
{
    public RuntimeEventPrinter(IAnsiConsole console, Func<long, bool> showRetry)
    {
        Receive<RetryScheduled>(m =>
        {
            if (showRetry(m.CallId))
                console.MarkupLineInterpolated($"[yellow]retry[/] {m.Call.Method.Method} {Courier.Diagnostics.SafeUrl.Format(m.Call.Uri)} in {m.Delay.TotalMilliseconds:0} ms (retry {m.Retry}/{m.MaxRetries}): {m.Reason}");
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
    public static IActorRef Print(ActorSystem system, IAnsiConsole console, Func<long, bool>? showRetry = null)
    {
        var printer = system.ActorOf(Props.Create(() => new RuntimeEventPrinter(console, showRetry ?? (_ => true))));
        foreach (var type in new[] { typeof(RetryScheduled), typeof(TokenRefreshed), typeof(TokenRefreshFailed), typeof(AuthenticationFailed) })
            system.EventStream.Subscribe(printer, type);
        return printer;
    }
}
