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
