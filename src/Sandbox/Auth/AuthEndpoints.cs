using System.Text.Json;
using Courier.Sandbox.Faults;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Auth;

/// <summary>
/// The token endpoints: <c>POST /auth/login</c>, <c>POST /auth/refresh</c> (JSON) and <c>POST /oauth/token</c>
/// (RFC 6749 form-urlencoded, password, refresh_token and client_credentials grants, client authentication required).
/// </summary>
internal sealed class AuthEndpoints(SandboxAuthority authority, CancellationToken serverStopping)
{
    private const string ClientChallenge = "Basic realm=\"sandbox\"";

    public async Task LoginAsync(HttpContext context)
    {
        TokenResponses.MarkNoStore(context.Response);
        using var body = await TryReadJsonAsync(context).ConfigureAwait(false);
        if (body is null)
        {
            await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected a JSON object").ConfigureAwait(false);
            return;
        }

        var username = GetString(body, "username");
        if (!authority.CheckUser(username, GetString(body, "password")))
        {
            await JsonResponse.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "invalid_credentials").ConfigureAwait(false);
            return;
        }

        await TokenResponses.WriteGrantAsync(context, TokenFormat.Json, authority.Login(username!)).ConfigureAwait(false);
    }

    public async Task RefreshAsync(HttpContext context)
    {
        TokenResponses.MarkNoStore(context.Response);
        using var body = await TryReadJsonAsync(context).ConfigureAwait(false);
        var refreshToken = body is null
            ? null
            : GetString(body, "refresh") ?? GetString(body, "refreshToken") ?? GetString(body, "refresh_token");
        if (refreshToken is null)
        {
            await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected {\"refresh\": \"<refresh token>\"}").ConfigureAwait(false);
            return;
        }

        await RefreshCoreAsync(context, TokenFormat.Json, refreshToken).ConfigureAwait(false);
    }

    public async Task TokenAsync(HttpContext context)
    {
        TokenResponses.MarkNoStore(context.Response);
        if (!context.Request.HasFormContentType)
        {
            await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "expected application/x-www-form-urlencoded").ConfigureAwait(false);
            return;
        }

        var form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        var (clientId, clientSecret) = ClientCredentials.Read(context.Request, form);
        if (!authority.CheckClient(clientId, clientSecret))
        {
            context.Response.Headers[HeaderNames.WWWAuthenticate] = ClientChallenge;
            await JsonResponse.WriteErrorAsync(context, StatusCodes.Status401Unauthorized, "invalid_client").ConfigureAwait(false);
            return;
        }

        string? grantType = form["grant_type"];
        switch (grantType)
        {
            case "password":
                string? username = form["username"];
                if (!authority.CheckUser(username, form["password"]))
                {
                    await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_grant", "bad resource owner credentials").ConfigureAwait(false);
                    return;
                }

                await TokenResponses.WriteGrantAsync(context, TokenFormat.OAuth, authority.Login(username!)).ConfigureAwait(false);
                return;

            case "refresh_token":
                string? refreshToken = form["refresh_token"];
                if (string.IsNullOrEmpty(refreshToken))
                {
                    await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "refresh_token is required").ConfigureAwait(false);
                    return;
                }

                await RefreshCoreAsync(context, TokenFormat.OAuth, refreshToken).ConfigureAwait(false);
                return;

            case "client_credentials":
                // RFC 6749 §4.4: the client authenticated above is the grant; no refresh token is issued (§4.4.3).
                await TokenResponses.WriteGrantAsync(context, TokenFormat.OAuth,
                    authority.GrantClientCredentials(clientId!, form["scope"], form["resource"].ToArray(), form["audience"])).ConfigureAwait(false);
                return;

            case null or "":
                await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "invalid_request", "grant_type is required").ConfigureAwait(false);
                return;

            default:
                await JsonResponse.WriteErrorAsync(context, StatusCodes.Status400BadRequest, "unsupported_grant_type").ConfigureAwait(false);
                return;
        }
    }

    private async Task RefreshCoreAsync(HttpContext context, TokenFormat format, string refreshToken)
    {
        var latency = authority.RefreshLatency;
        if (latency > TimeSpan.Zero)
        {
            try
            {
                await FaultInjector.DelayAsync(latency, context, serverStopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The client gave up (or the server is stopping) before the refresh ran: nothing is consumed.
                context.Abort();
                return;
            }
        }

        if (authority.TryTakeRefreshFailure(out var injectedStatus))
        {
            await TokenResponses.WriteInjectedFailureAsync(context, injectedStatus).ConfigureAwait(false);
            return;
        }

        var failure = authority.TryRefresh(refreshToken, out var grant);
        await (failure == RefreshFailure.None
            ? TokenResponses.WriteGrantAsync(context, format, grant)
            : TokenResponses.WriteRefreshRefusedAsync(context, format, failure)).ConfigureAwait(false);
    }

    /// <summary>Parses the request body as a JSON object; null when it is empty or not a JSON object.</summary>
    private static async Task<JsonDocument?> TryReadJsonAsync(HttpContext context)
    {
        try
        {
            var document = await JsonDocument.ParseAsync(context.Request.Body, default, context.RequestAborted).ConfigureAwait(false);
            if (document.RootElement.ValueKind == JsonValueKind.Object)
            {
                return document;
            }

            document.Dispose();
            return null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? GetString(JsonDocument document, string name) =>
        document.RootElement.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String
            ? value.GetString()
            : null;
}
