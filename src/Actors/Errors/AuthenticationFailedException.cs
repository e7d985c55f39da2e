namespace Courier.Errors;

/// <summary>
/// No valid access token could be had for a call: the token endpoint rejected the refresh token, the refresh timed out,
/// the client is signed out, or the server rejected even a freshly refreshed token. The message never contains a token.
/// </summary>
public sealed class AuthenticationFailedException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    /// <param name="reason">Why, without any secret.</param>
    /// <param name="method">The call's method, if the failure is a call's.</param>
    /// <param name="url">The call's URL, if the failure is a call's.</param>
    /// <param name="attempts">Attempts the call made.</param>
    /// <param name="inner">The cause, if any.</param>
    /// <param name="credential">The named credential that failed; null for the default one.</param>
    public AuthenticationFailedException(string reason, HttpMethod? method = null, Uri? url = null, int attempts = 0, Exception? inner = null,
        string? credential = null)
        : base(HttpCallFailure.Authentication, method ?? HttpMethod.Get, url, attempts,
            (method is null ? "Authentication failed" : $"{Describe(method, url)}: authentication failed")
            + (credential is null ? "" : $" (credential '{credential}')") + $": {reason}", inner)
    {
        Reason = reason;
        Credential = credential;
    }

    /// <summary>The named credential that failed (<c>Courier:Credentials:{name}</c>); null for the default one (<c>Courier:Auth</c>).</summary>
    public string? Credential { get; }

    /// <summary>Why, without any secret.</summary>
    public string Reason { get; }

    /// <summary>The same failure, named for one call.</summary>
    public AuthenticationFailedException ForCall(HttpMethod method, Uri url, int attempts) =>
        new(Reason, method, url, attempts, InnerException, Credential);
}
