using System.Security.Cryptography;
using System.Text;

namespace Courier.Auth;

/// <summary>
/// Credentials as the TokenActor holds them: an access token, the refresh token that renews it (if any) and the access
/// token's expiry (if known). <see cref="ToString"/> never shows a token, only a short fingerprint.
/// </summary>
/// <param name="AccessToken">The access token sent with calls.</param>
/// <param name="RefreshToken">The refresh token, or null when the credentials cannot be renewed.</param>
/// <param name="ExpiresAt">When the access token expires, or null when unknown.</param>
public sealed record TokenPair(string AccessToken, string? RefreshToken, DateTimeOffset? ExpiresAt = null)
{
    /// <inheritdoc />
    public override string ToString() =>
        $"TokenPair(access {TokenFingerprint.Of(AccessToken)}, refresh {(RefreshToken is null ? "none" : TokenFingerprint.Of(RefreshToken))}, expires {ExpiresAt?.ToString("O") ?? "unknown"})";
}

/// <summary>Short, non-reversible names for tokens, for logs: the first 8 hex digits of the SHA-256.</summary>
public static class TokenFingerprint
{
    /// <summary>Returns <c>sha256:xxxxxxxx</c> for <paramref name="token"/>.</summary>
    public static string Of(string? token)
    {
        if (string.IsNullOrEmpty(token)) return "(none)";
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(Encoding.UTF8.GetBytes(token), hash);
        return "sha256:" + Convert.ToHexStringLower(hash[..4]);
    }
}
