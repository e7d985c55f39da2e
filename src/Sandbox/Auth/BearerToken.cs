using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Auth;

/// <summary>Reads access tokens from requests (RFC 6750 header or the custom <c>accessToken</c> header) and answers rejections.</summary>
internal static class BearerToken
{
    private const string Scheme = "Bearer ";
    private const string Challenge = "Bearer error=\"invalid_token\"";

    /// <summary>The token of <c>Authorization: Bearer &lt;token&gt;</c>, else of <c>accessToken: &lt;token&gt;</c>, else null.</summary>
    public static string? Read(HttpRequest request)
    {
        var headers = request.Headers;
        if (StripScheme(headers.Authorization.ToString()) is { } fromAuthorization)
        {
            return fromAuthorization;
        }

        if (headers.TryGetValue(SandboxHeaders.AccessToken, out var custom))
        {
            var value = custom.ToString().Trim();
            return StripScheme(value) ?? (value.Length > 0 ? value : null);
        }

        return null;
    }

    /// <summary>Answers a refused protected-resource request with the configured status and a Bearer challenge.</summary>
    public static Task RejectAsync(HttpContext context, AccessTokenStatus status, int statusCode)
    {
        context.Response.Headers[HeaderNames.WWWAuthenticate] = Challenge;
        return JsonResponse.WriteErrorAsync(context, statusCode, "invalid_token", status switch
        {
            AccessTokenStatus.Missing => "missing",
            AccessTokenStatus.Expired => "expired",
            AccessTokenStatus.Revoked => "revoked",
            _ => "invalid",
        });
    }

    private static string? StripScheme(string value)
    {
        if (!value.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var token = value.AsSpan(Scheme.Length).Trim();
        return token.IsEmpty ? null : token.ToString();
    }
}
