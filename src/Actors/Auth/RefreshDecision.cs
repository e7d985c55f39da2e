namespace Courier.Auth;

/// <summary>
/// What to do with one answer of the token endpoint: the pure half of the refresh core (<see cref="RefreshCore"/>), shared
/// by the TokenActor and the cluster's credential owner. No clock, no actor, no state: tests pin it directly, as
/// <c>Backoff</c> is pinned for calls.
/// </summary>
internal abstract record RefreshDecision
{
    private RefreshDecision()
    {
    }

    /// <summary>Lifetimes beyond this are taken as this: an absurd <c>expires_in</c> must not overflow the clock.</summary>
    public static readonly TimeSpan MaxLifetime = TimeSpan.FromDays(10 * 365);

    /// <summary>Take the new pair; the refresh is over.</summary>
    /// <param name="Pair">The new credentials, expiry clamped (see <see cref="ExpiryOf"/>).</param>
    /// <param name="Attempts">Requests this refresh made to the token endpoint.</param>
    public sealed record Adopt(TokenPair Pair, int Attempts) : RefreshDecision;

    /// <summary>The token endpoint refused the refresh token for good: the credentials are lost.</summary>
    public sealed record SignOut(string Reason, int Attempts) : RefreshDecision;

    /// <summary>A passing failure with retries left: retry after <paramref name="Delay"/>.</summary>
    /// <param name="Delay">The delay before the next request.</param>
    /// <param name="Reason">What failed (no token in it).</param>
    /// <param name="Attempt">The attempt that failed (1 for the first request).</param>
    public sealed record RetryAfter(TimeSpan Delay, string Reason, int Attempt) : RefreshDecision;

    /// <summary>A passing failure and no retry left: the waiting calls fail, the credentials stay.</summary>
    public sealed record GiveUp(string Reason, int Attempts, Exception? Error) : RefreshDecision;

    /// <summary>
    /// Decides what answer <paramref name="result"/> of attempt number <paramref name="attempt"/> (1-based) means.
    /// </summary>
    /// <param name="result">The token endpoint's answer (a timeout is a <see cref="TokenRefreshResult.Failed"/>).</param>
    /// <param name="attempt">How many requests this refresh has made, this one included.</param>
    /// <param name="refreshToken">The refresh token the request carried: kept when the answer does not rotate it.</param>
    /// <param name="maxRetries">Retries allowed after the first request: attempt <c>maxRetries + 1</c> is the last.</param>
    /// <param name="delayBeforeRetry">The delay before retry number n (0-based).</param>
    /// <param name="now">The scheduler's clock, for the expiry.</param>
    public static RefreshDecision Decide(TokenRefreshResult result, int attempt, string refreshToken, int maxRetries,
        Func<int, TimeSpan> delayBeforeRetry, DateTimeOffset now) => result switch
    {
        TokenRefreshResult.Refreshed refreshed => new Adopt(
            new TokenPair(refreshed.AccessToken, refreshed.RefreshToken ?? refreshToken, ExpiryOf(refreshed, now)), attempt),
        TokenRefreshResult.Rejected rejected => new SignOut(rejected.Reason, attempt),
        TokenRefreshResult.Failed failed when attempt > maxRetries => new GiveUp(failed.Reason, attempt, failed.Error),
        TokenRefreshResult.Failed failed => new RetryAfter(delayBeforeRetry(attempt - 1), failed.Reason, attempt),
        _ => throw new ArgumentOutOfRangeException(nameof(result), result, "Unknown refresh result."),
    };

    /// <summary>
    /// When a freshly issued access token expires: from <c>expires_in</c>, else from a JWT's <c>exp</c>; null when unknown.
    /// A token already expired on arrival (<c>expires_in</c> 0, or clock skew against <c>exp</c>) also gets null: treated
    /// as expired, every waiting call would start another refresh; it is used until the server refuses it. A lifetime
    /// beyond <see cref="MaxLifetime"/> is clamped to it.
    /// </summary>
    public static DateTimeOffset? ExpiryOf(TokenRefreshResult.Refreshed refreshed, DateTimeOffset now)
    {
        DateTimeOffset? expiresAt;
        if (refreshed.ExpiresIn is { } lifetime)
            expiresAt = lifetime <= TimeSpan.Zero ? null : now + (lifetime > MaxLifetime ? MaxLifetime : lifetime);
        else
            expiresAt = JwtExpiry.TryRead(refreshed.AccessToken) is { } exp && exp > now ? (exp - now > MaxLifetime ? now + MaxLifetime : exp) : null;
        return expiresAt;
    }
}
