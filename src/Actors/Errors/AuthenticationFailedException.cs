namespace Courier.Errors;

/// <summary>
/// No valid access token could be had for a call: the token endpoint rejected the refresh token, the refresh timed out,
/// the client is signed out, or the server rejected even a freshly refreshed token. The message never contains a token.
/// </summary>
public sealed class AuthenticationFailedException : HttpCallException
{
    /// <summary>Creates the error.</summary>
    public AuthenticationFailedException(string reason, HttpMethod? method = null, Uri? url = null, int attempts = 0, Exception? inner = null)
        : base(HttpCallFailure.Authentication, method ?? HttpMethod.Get, url, attempts,
            method is null ? $"Authentication failed: {reason}" : $"{Describe(method, url)}: authentication failed: {reason}", inner)
    {
        Reason = reason;
    }

    /// <summary>Why, without any secret.</summary>
    public string Reason { get; }

    /// <summary>The same failure, named for one call.</summary>
    public AuthenticationFailedException ForCall(HttpMethod method, Uri url, int attempts) =>
        new(Reason, method, url, attempts, InnerException);
}
