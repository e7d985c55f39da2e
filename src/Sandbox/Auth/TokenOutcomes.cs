namespace Courier.Sandbox.Auth;

/// <summary>Tokens handed out by a login or a refresh.</summary>
/// <param name="AccessToken">The new access token (a JWT).</param>
/// <param name="RefreshToken">The new refresh token; null when a refresh did not rotate it.</param>
/// <param name="ExpiresIn">Lifetime of the access token in seconds.</param>
internal readonly record struct TokenGrant(string AccessToken, string? RefreshToken, int ExpiresIn);

/// <summary>Why a refresh token was refused (all of them are <c>invalid_grant</c> on the wire).</summary>
internal enum RefreshFailure
{
    None,
    Unknown,
    Revoked,
    Reused,
}

/// <summary>The outcome of validating an access token.</summary>
internal enum AccessTokenStatus
{
    Valid,
    Missing,
    Invalid,
    Revoked,
    Expired,
}
