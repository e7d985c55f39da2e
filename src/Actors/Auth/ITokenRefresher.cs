namespace Courier.Auth;

/// <summary>What one request to the token endpoint came to.</summary>
public abstract record TokenRefreshResult
{
    private protected TokenRefreshResult()
    {
    }

    /// <summary>New credentials. <paramref name="RefreshToken"/> is null when the server did not rotate it (the old one stays).</summary>
    public sealed record Refreshed(string AccessToken, string? RefreshToken, TimeSpan? ExpiresIn) : TokenRefreshResult
    {
        /// <inheritdoc />
        public override string ToString() => $"Refreshed({TokenFingerprint.Of(AccessToken)}, expires in {ExpiresIn?.TotalSeconds.ToString() ?? "?"} s)";
    }

    /// <summary>
    /// The token endpoint refused for good (HTTP 400/401, e.g. OAuth <c>invalid_grant</c>): retrying cannot help, the
    /// credentials are lost. <paramref name="Reason"/> names the error code, never a token.
    /// </summary>
    public sealed record Rejected(string Reason) : TokenRefreshResult;

    /// <summary>A passing failure (connection, timeout, 5xx, 429): the refresh is retried with backoff.</summary>
    public sealed record Failed(string Reason, Exception? Error = null) : TokenRefreshResult;
}

/// <summary>
/// Exchanges a refresh token for new credentials: one request to the token endpoint, no retries (the TokenActor schedules
/// those), through an HTTP client of its own so that a refresh can never recurse into the request path.
/// </summary>
public interface ITokenRefresher
{
    /// <summary>Performs one refresh request.</summary>
    Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken);
}

/// <summary>A refresher made of a delegate: for token endpoints with a wire format of their own.</summary>
public sealed class DelegateTokenRefresher(Func<string, CancellationToken, Task<TokenRefreshResult>> refresh) : ITokenRefresher
{
    /// <inheritdoc />
    public Task<TokenRefreshResult> RefreshAsync(string refreshToken, CancellationToken cancellationToken) => refresh(refreshToken, cancellationToken);
}
