namespace Courier.Sandbox;

/// <summary>A snapshot of the <see cref="SandboxAuthority"/> counters.</summary>
/// <param name="Logins">Successful logins (JSON, OAuth password grant and <see cref="SandboxAuthority.IssueTokens"/>).</param>
/// <param name="RefreshesPerformed">Successful refreshes (both formats).</param>
/// <param name="ReuseEvents">Rotated refresh tokens presented again (each revoked a family).</param>
/// <param name="RejectedExpired">Protected-resource requests refused because the access token had expired.</param>
/// <param name="RejectedInvalid">Protected-resource requests refused for a missing, unknown or revoked access token.</param>
public sealed record SandboxAuthStats(
    long Logins,
    long RefreshesPerformed,
    long ReuseEvents,
    long RejectedExpired,
    long RejectedInvalid);
