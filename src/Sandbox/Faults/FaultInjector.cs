using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Faults;

/// <summary>Carries out the faults described by a <see cref="FaultPlan"/>.</summary>
internal static class FaultInjector
{
    /// <summary>The Content-Length declared by aborted responses, of which only a few bytes are sent.</summary>
    public const int AbortDeclaredLength = 1000;

    /// <summary>
    /// Pause between flushing the partial body and aborting: Kestrel's abort discards output the socket has not
    /// sent yet, so without it the client would usually see a reset before the status line.
    /// </summary>
    private static readonly TimeSpan AbortGrace = TimeSpan.FromMilliseconds(30);

    private static readonly ReadOnlyMemory<byte> AbortPrefix = "{\"partial\":\"the connection is aborted after th"u8.ToArray();

    /// <summary>Waits <paramref name="delay"/>; stops early (throwing) if the client or the server goes away.</summary>
    public static async Task DelayAsync(TimeSpan delay, HttpContext context, CancellationToken serverStopping)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, serverStopping);
        await Task.Delay(delay, linked.Token).ConfigureAwait(false);
    }

    /// <summary>Never answers: returns once the client gives up, or aborts the connection when the server stops.</summary>
    public static async Task HangAsync(HttpContext context, CancellationToken serverStopping)
    {
        try
        {
            await DelayAsync(Timeout.InfiniteTimeSpan, context, serverStopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // The client gave up (nothing left to answer) or the server is stopping.
        }

        context.Abort();
    }

    /// <summary>Sends 200 headers declaring <see cref="AbortDeclaredLength"/> bytes, writes a few, flushes, then aborts.</summary>
    public static async Task AbortMidBodyAsync(HttpContext context, CancellationToken serverStopping)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = JsonResponse.ContentType;
        response.ContentLength = AbortDeclaredLength;
        await response.Body.WriteAsync(AbortPrefix, context.RequestAborted).ConfigureAwait(false);
        await response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
        await DelayAsync(AbortGrace, context, serverStopping).ConfigureAwait(false);
        context.Abort();
    }

    /// <summary>Answers <c>{"error":"injected","attempt":k}</c> with the plan's status and optional <c>Retry-After</c>.</summary>
    public static Task FailAsync(HttpContext context, in FaultPlan plan, long attempt)
    {
        if (plan.RetryAfter is not null)
        {
            context.Response.Headers[HeaderNames.RetryAfter] = plan.RetryAfter;
        }

        return JsonResponse.WriteAsync(context, plan.FailStatus, attempt, static (writer, attempt) =>
        {
            writer.WriteStartObject();
            writer.WriteString("error"u8, "injected"u8);
            writer.WriteNumber("attempt"u8, attempt);
            writer.WriteEndObject();
        });
    }
}
