using Courier.Sandbox.Auth;
using Courier.Sandbox.Faults;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Echo;

/// <summary>
/// The echo resources: <c>/api/{**path}</c> (open) and <c>/secure/{**path}</c> (access token required), both with
/// per-key counters and header-driven fault injection.
/// </summary>
internal sealed class EchoEndpoints(SandboxCounters counters, SandboxAuthority authority, CancellationToken serverStopping)
{
    /// <summary>Handles <c>/api/{**path}</c>.</summary>
    public Task HandleOpenAsync(HttpContext context) => HandleAsync(context, token: null);

    /// <summary>
    /// Handles <c>/secure/{**path}</c>: the access token is checked first, so refused requests are neither counted
    /// under the key nor consume fault-injection attempts.
    /// </summary>
    public Task HandleSecureAsync(HttpContext context)
    {
        var status = authority.Authenticate(BearerToken.Read(context.Request), out var token);
        return status == AccessTokenStatus.Valid
            ? HandleAsync(context, token)
            : BearerToken.RejectAsync(context, status, authority.Options.ExpiredStatusCode);
    }

    private async Task HandleAsync(HttpContext context, AccessTokenRecord? token)
    {
        var request = context.Request;
        var headers = request.Headers;
        var key = headers.TryGetValue(SandboxHeaders.Key, out var keyHeader) && keyHeader.Count > 0 && !string.IsNullOrEmpty(keyHeader[0])
            ? keyHeader[0]!
            : SandboxHeaders.DefaultKey;
        string? idempotencyKey = headers.TryGetValue(SandboxHeaders.IdempotencyKey, out var idempotency) ? idempotency.ToString() : null;

        var state = counters.GetOrAdd(key);
        var attempt = state.BeginRequest(request.Method, idempotencyKey);
        try
        {
            var plan = FaultPlan.Parse(headers);
            if (plan.LatencyMs > 0)
            {
                await FaultInjector.DelayAsync(TimeSpan.FromMilliseconds(plan.LatencyMs), context, serverStopping).ConfigureAwait(false);
            }

            switch (plan.ActionFor(attempt))
            {
                case FaultAction.Hang:
                    await FaultInjector.HangAsync(context, serverStopping).ConfigureAwait(false);
                    return;
                case FaultAction.Abort:
                    await FaultInjector.AbortMidBodyAsync(context, serverStopping).ConfigureAwait(false);
                    return;
                case FaultAction.Fail:
                    await FaultInjector.FailAsync(context, plan, attempt).ConfigureAwait(false);
                    return;
            }

            var body = await RequestBody.ReadAsStringAsync(request).ConfigureAwait(false);
            await JsonResponse.WriteAsync(context, StatusCodes.Status200OK, new EchoState(request, body, key, attempt, token), EchoWriter.Write)
                .ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException
                                   && (context.RequestAborted.IsCancellationRequested || serverStopping.IsCancellationRequested))
        {
            // The client went away (or the server is stopping) mid-request: there is nobody left to answer.
            context.Abort();
        }
        finally
        {
            state.EndRequest();
        }
    }
}
