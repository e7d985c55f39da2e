namespace Courier.Sandbox;

/// <summary>
/// Behaviour of the sandbox OAuth 2.0 authorization server (<see cref="SandboxAuthority"/>).
/// </summary>
/// <remarks>
/// <see cref="SandboxServer.StartAsync"/> copies these settings; the running copy is exposed as
/// <see cref="SandboxAuthority.Options"/> and may be changed while the server runs (changes apply to later requests).
/// </remarks>
public sealed class SandboxAuthOptions
{
    /// <summary>Lifetime of issued access tokens (the JWT <c>exp</c> claim and <c>expiresIn</c>).</summary>
    public TimeSpan AccessTokenLifetime { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// When true every successful refresh issues a new refresh token and marks the presented one as used.
    /// When false the same refresh token keeps working and refresh responses carry no new refresh token.
    /// </summary>
    public bool RotateRefreshTokens { get; set; } = true;

    /// <summary>
    /// When true, presenting an already-used (rotated) refresh token revokes its whole token family,
    /// refresh and access tokens alike (RFC 9700 §4.14.2), and counts a reuse event.
    /// </summary>
    public bool ReuseDetection { get; set; } = true;

    /// <summary>Status code answered by <c>/secure/...</c> for a missing, invalid, revoked or expired access token (some servers use 403).</summary>
    public int ExpiredStatusCode { get; set; } = 401;

    /// <summary>The only resource-owner user name accepted at login.</summary>
    public string Username { get; set; } = "demo";

    /// <summary>The password of <see cref="Username"/>.</summary>
    public string Password { get; set; } = "demo-password";

    /// <summary>The OAuth client id required by <c>/oauth/token</c>.</summary>
    public string ClientId { get; set; } = "courier-cli";

    /// <summary>The OAuth client secret required by <c>/oauth/token</c>.</summary>
    public string ClientSecret { get; set; } = "courier-secret";

    /// <summary>Returns a copy of these settings.</summary>
    public SandboxAuthOptions Clone() => (SandboxAuthOptions)MemberwiseClone();
}
