namespace Courier.Sandbox.Auth;

/// <summary>The server's record of an access token it issued.</summary>
internal sealed record AccessTokenRecord(
    string Token,
    string Jti,
    TokenFamily Family,
    int Generation,
    long Sequence,
    DateTimeOffset ExpiresAt);

/// <summary>The server's record of an opaque refresh token it issued; it can be used (rotated) exactly once.</summary>
internal sealed class RefreshTokenRecord(string token, TokenFamily family, int generation)
{
    private int _used;

    public string Token { get; } = token;

    public TokenFamily Family { get; } = family;

    public int Generation { get; } = generation;

    public bool IsUsed => Volatile.Read(ref _used) != 0;

    /// <summary>Atomically marks the token used; exactly one caller ever gets true.</summary>
    public bool TryMarkUsed() => Interlocked.CompareExchange(ref _used, 1, 0) == 0;
}

/// <summary>Tokens handed out by a login or a refresh.</summary>
/// <param name="RefreshToken">Null when a refresh did not rotate the refresh token.</param>
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
