using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Auth;

/// <summary>The two wire formats of the token endpoints.</summary>
internal enum TokenFormat
{
    /// <summary><c>/auth/login</c> and <c>/auth/refresh</c>: camelCase JSON, 401 on refusal.</summary>
    Json,

    /// <summary><c>/oauth/token</c>: RFC 6749 §5.1 snake_case JSON, 400 on refusal.</summary>
    OAuth,
}

/// <summary>Writes token-endpoint answers; every one of them is marked <c>Cache-Control: no-store</c> (RFC 6749 §5.1).</summary>
internal static class TokenResponses
{
    public static void MarkNoStore(HttpResponse response)
    {
        response.Headers[HeaderNames.CacheControl] = "no-store";
        response.Headers[HeaderNames.Pragma] = "no-cache";
    }

    public static Task WriteGrantAsync(HttpContext context, TokenFormat format, TokenGrant grant) =>
        JsonResponse.WriteAsync(context, StatusCodes.Status200OK, (format, grant), static (writer, s) =>
        {
            var (format, grant) = s;
            writer.WriteStartObject();
            if (format == TokenFormat.OAuth)
            {
                writer.WriteString("access_token"u8, grant.AccessToken);
                writer.WriteString("token_type"u8, "Bearer"u8);
                writer.WriteNumber("expires_in"u8, grant.ExpiresIn);
                if (grant.RefreshToken is not null)
                {
                    writer.WriteString("refresh_token"u8, grant.RefreshToken);
                }
            }
            else
            {
                writer.WriteString("accessToken"u8, grant.AccessToken);
                if (grant.RefreshToken is not null)
                {
                    writer.WriteString("refreshToken"u8, grant.RefreshToken);
                }

                writer.WriteNumber("expiresIn"u8, grant.ExpiresIn);
            }

            writer.WriteEndObject();
        });

    /// <summary>Answers a refused refresh token: 401 (JSON format) or 400 (OAuth), <c>invalid_grant</c>.</summary>
    public static Task WriteRefreshRefusedAsync(HttpContext context, TokenFormat format, RefreshFailure failure) =>
        JsonResponse.WriteErrorAsync(
            context,
            format == TokenFormat.OAuth ? StatusCodes.Status400BadRequest : StatusCodes.Status401Unauthorized,
            "invalid_grant",
            failure switch
            {
                RefreshFailure.Reused => "refresh token reuse detected",
                RefreshFailure.Revoked => "refresh token revoked",
                _ => "unknown refresh token",
            });

    /// <summary>Answers a refresh failed on purpose by <see cref="SandboxAuthority.FailNextRefreshes"/>.</summary>
    public static Task WriteInjectedFailureAsync(HttpContext context, int statusCode) =>
        JsonResponse.WriteErrorAsync(context, statusCode, statusCode switch
        {
            StatusCodes.Status400BadRequest or StatusCodes.Status401Unauthorized => "invalid_grant",
            StatusCodes.Status503ServiceUnavailable => "temporarily_unavailable",
            _ => "server_error",
        }, "injected refresh failure");
}
