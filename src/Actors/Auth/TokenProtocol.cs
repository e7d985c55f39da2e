using Courier.Errors;

namespace Courier.Auth;

/// <summary>Asks the TokenActor for the current access token. Answered with <see cref="TokenGranted"/> or <see cref="TokenUnavailable"/>.</summary>
/// <param name="CallId">The call that needs it (for logs).</param>
public sealed record GetToken(long CallId);

/// <summary>
/// Tells the TokenActor that a call sent with the token of <paramref name="Generation"/> was rejected with a trigger status.
/// If a newer token exists the answer is that token at once; otherwise exactly one refresh runs and every caller waits for it.
/// Answered with <see cref="TokenGranted"/> or <see cref="TokenUnavailable"/>.
/// </summary>
public sealed record TokenRejected(long CallId, long Generation);

/// <summary>The token to send; <paramref name="Generation"/> increases with every new access token.</summary>
public sealed record TokenGranted(long CallId, string AccessToken, long Generation)
{
    /// <inheritdoc />
    public override string ToString() => $"TokenGranted(call {CallId}, {TokenFingerprint.Of(AccessToken)}, generation {Generation})";
}

/// <summary>No token can be had: the refresh failed, timed out, or the client is signed out.</summary>
public sealed record TokenUnavailable(long CallId, AuthenticationFailedException Error);

/// <summary>Gives the TokenActor new credentials (after a login); it leaves the signed-out state. Answered with <see cref="SignedIn"/>.</summary>
public sealed record SignIn(TokenPair Credentials);

/// <summary>The answer to <see cref="SignIn"/>: the new credentials are stored and in use.</summary>
public sealed record SignedIn(long Generation);

/// <summary>Drops the credentials (and clears the store); calls fail fast until the next <see cref="SignIn"/>.</summary>
public sealed record SignOut
{
    /// <summary>The one instance.</summary>
    public static readonly SignOut Instance = new();
}

/// <summary>Asks the TokenActor for its state, for diagnostics and tests. Answered with <see cref="TokenStatus"/>.</summary>
public sealed record GetTokenStatus
{
    /// <summary>The one instance.</summary>
    public static readonly GetTokenStatus Instance = new();
}

/// <summary>A snapshot of the TokenActor: its state name, generation, expiry and how many refreshes it has performed.</summary>
public sealed record TokenStatus(string State, long Generation, DateTimeOffset? ExpiresAt, long Refreshes, int Waiting);

// ---- events on the event stream ------------------------------------------------------------------------------

/// <summary>
/// Published on the event stream exactly once each time the credentials are lost for good (the token endpoint rejected the
/// refresh token, or there was none): subscribe to log the user out or prompt for a login. Every waiting call failed with
/// <see cref="Error"/>.
/// </summary>
public sealed record AuthenticationFailed(string Reason, AuthenticationFailedException Error);

/// <summary>Published on the event stream after every successful refresh, once the new pair is stored.</summary>
/// <param name="Generation">The new token generation.</param>
/// <param name="ExpiresAt">When the new access token expires, if known.</param>
/// <param name="Trigger">What started the refresh: <c>"rejected"</c> (a trigger status), <c>"expired"</c>, or <c>"proactive"</c>.</param>
/// <param name="Attempts">Requests made to the token endpoint.</param>
/// <param name="Waiting">Calls that were waiting for it.</param>
public sealed record TokenRefreshed(long Generation, DateTimeOffset? ExpiresAt, string Trigger, int Attempts, int Waiting);

/// <summary>
/// Published on the event stream when a refresh failed for a passing reason and a retry is scheduled (after its timer is
/// set). <paramref name="RetryIn"/> is null when no retry follows and the waiting calls fail.
/// </summary>
public sealed record TokenRefreshFailed(string Reason, int Attempt, TimeSpan? RetryIn);

/// <summary>
/// Published on the event stream when the token store did not finish writing a refreshed pair within
/// <see cref="TokenOptions.StoreWriteTimeout"/>. The pair is in use from memory (the server has already rotated the old
/// one) and the write goes on; until it lands, a restart may need a new sign-in.
/// </summary>
/// <param name="Generation">The generation being written.</param>
/// <param name="Waited">How long the write was waited for.</param>
public sealed record TokenStoreWriteOverdue(long Generation, TimeSpan Waited);
