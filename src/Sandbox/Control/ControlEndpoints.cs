using System.Globalization;
using Courier.Sandbox.Auth;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Control;

/// <summary>
/// Test controls over HTTP under <c>/_sandbox/</c>, mirroring <see cref="SandboxCounters"/> and
/// <see cref="SandboxAuthority"/> for out-of-process clients (CLI demo, benchmarks).
/// </summary>
internal sealed class ControlEndpoints(SandboxCounters counters, SandboxAuthority authority)
{
    /// <summary><c>GET /_sandbox/health</c>: 200 <c>{"status":"ok"}</c>.</summary>
    public Task HealthAsync(HttpContext context) =>
        JsonResponse.WriteAsync(context, StatusCodes.Status200OK, 0, static (writer, _) =>
        {
            writer.WriteStartObject();
            writer.WriteString("status"u8, "ok"u8);
            writer.WriteEndObject();
        });

    /// <summary><c>GET /_sandbox/counters/{key}</c>: the counters of one key.</summary>
    public Task CountersAsync(HttpContext context)
    {
        var key = context.Request.RouteValues["key"] as string ?? SandboxHeaders.DefaultKey;
        return JsonResponse.WriteAsync(context, StatusCodes.Status200OK, (key, counters.For(key)), static (writer, s) =>
        {
            var (key, snapshot) = s;
            writer.WriteStartObject();
            writer.WriteString("key"u8, key);
            writer.WriteNumber("requests"u8, snapshot.Requests);
            writer.WriteNumber("inFlight"u8, snapshot.InFlight);
            writer.WriteNumber("maxInFlight"u8, snapshot.MaxInFlight);
            WriteCounts(writer, "byMethod", snapshot.ByMethod);
            WriteCounts(writer, "byIdempotencyKey", snapshot.ByIdempotencyKey);
            writer.WriteEndObject();
        });
    }

    /// <summary><c>POST /_sandbox/reset</c>: clears the per-key request counters and the auth counters.</summary>
    public Task ResetAsync(HttpContext context)
    {
        counters.Reset();
        authority.ResetCounters();
        return NoContent(context);
    }

    /// <summary><c>GET /_sandbox/auth/stats</c>: the authority counters.</summary>
    public Task AuthStatsAsync(HttpContext context) =>
        JsonResponse.WriteAsync(context, StatusCodes.Status200OK, authority.GetStats(), static (writer, stats) =>
        {
            writer.WriteStartObject();
            writer.WriteNumber("logins"u8, stats.Logins);
            writer.WriteNumber("refreshesPerformed"u8, stats.RefreshesPerformed);
            writer.WriteNumber("reuseEvents"u8, stats.ReuseEvents);
            writer.WriteNumber("rejectedExpired"u8, stats.RejectedExpired);
            writer.WriteNumber("rejectedInvalid"u8, stats.RejectedInvalid);
            writer.WriteEndObject();
        });

    /// <summary><c>POST /_sandbox/auth/expire</c>: <see cref="SandboxAuthority.ExpireAccessTokens"/>.</summary>
    public Task ExpireAsync(HttpContext context)
    {
        authority.ExpireAccessTokens();
        return NoContent(context);
    }

    /// <summary><c>POST /_sandbox/auth/revoke</c>: <see cref="SandboxAuthority.RevokeAll"/>.</summary>
    public Task RevokeAsync(HttpContext context)
    {
        authority.RevokeAll();
        return NoContent(context);
    }

    /// <summary><c>POST /_sandbox/auth/reset</c>: <see cref="SandboxAuthority.ResetCounters"/>.</summary>
    public Task ResetAuthCountersAsync(HttpContext context)
    {
        authority.ResetCounters();
        return NoContent(context);
    }

    /// <summary><c>POST /_sandbox/auth/fail-refreshes?count=N&amp;status=S</c> (status defaults to 503).</summary>
    public Task FailRefreshesAsync(HttpContext context)
    {
        var count = QueryInt(context, "count");
        var status = QueryInt(context, "status") ?? StatusCodes.Status503ServiceUnavailable;
        if (count is not >= 0 || status is < 100 or > 599)
        {
            return JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected ?count=N&status=S");
        }

        authority.FailNextRefreshes(count.Value, status);
        return NoContent(context);
    }

    /// <summary><c>POST /_sandbox/auth/refresh-latency?ms=N</c>: <see cref="SandboxAuthority.RefreshLatency"/>.</summary>
    public Task RefreshLatencyAsync(HttpContext context)
    {
        if (QueryInt(context, "ms") is not { } milliseconds || milliseconds < 0)
        {
            return JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected ?ms=N");
        }

        authority.RefreshLatency = TimeSpan.FromMilliseconds(milliseconds);
        return NoContent(context);
    }

    /// <summary><c>POST /_sandbox/auth/issue</c>: <see cref="SandboxAuthority.IssueTokens"/>, answered like <c>/auth/login</c>.</summary>
    public Task IssueAsync(HttpContext context)
    {
        var (accessToken, refreshToken, expiresIn) = authority.IssueTokens();
        TokenResponses.MarkNoStore(context.Response);
        return TokenResponses.WriteGrantAsync(context, TokenFormat.Json, new TokenGrant(accessToken, refreshToken, expiresIn));
    }

    private static Task NoContent(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    private static int? QueryInt(HttpContext context, string name) =>
        int.TryParse(context.Request.Query[name].ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;

    private static void WriteCounts(System.Text.Json.Utf8JsonWriter writer, string name, IReadOnlyDictionary<string, long> counts)
    {
        writer.WriteStartObject(name);
        foreach (var (key, count) in counts)
        {
            writer.WriteNumber(key, count);
        }

        writer.WriteEndObject();
    }
}
