namespace Courier.Auth;

// The TokenActor's pluggable refresh step. By default the TokenActor refreshes itself through its ITokenRefresher. When
// TokenSettings.SharedLink is set, it starts that link as a child and leaves every refresh to whoever is behind the link
// (Courier.Cluster: a cluster singleton, with the pair replicated by Akka.DistributedData). The TokenActor then serves,
// stashes and fails calls exactly as before; only where a new pair comes from changes, and its generations are the
// shared ones (the same number means the same pair on every node).

/// <summary>TokenActor → link: the pair of <paramref name="Generation"/> was refused (or is expiring); obtain its successor.</summary>
/// <remarks>The link answers with a <see cref="SharedCredentials"/> newer than <paramref name="Generation"/> or a <see cref="SharedRefreshFailed"/>.</remarks>
internal sealed record SharedRefreshRequest(long Generation, string Trigger);

/// <summary>TokenActor → link (forwarded, so the link answers the original sender with <see cref="SignedIn"/>): replace the shared pair.</summary>
internal sealed record SharedSignIn(TokenPair Credentials);

/// <summary>TokenActor → link: drop the shared pair everywhere.</summary>
internal sealed record SharedSignOut
{
    public static readonly SharedSignOut Instance = new();
}

/// <summary>
/// Link → TokenActor: the shared state of <paramref name="Generation"/>. <paramref name="Credentials"/> is null when the
/// credentials are gone: refused by the token endpoint (<paramref name="Announce"/>: every node publishes
/// <see cref="AuthenticationFailed"/> once), signed out, or never configured.
/// </summary>
/// <param name="Generation">The shared generation; a TokenActor adopts only generations newer than its own.</param>
/// <param name="Credentials">The pair, or null.</param>
/// <param name="Failure">Why there is no pair, when there is none.</param>
/// <param name="Announce">Publish <see cref="AuthenticationFailed"/> when adopting a missing pair.</param>
/// <param name="Trigger">What started the refresh that made this pair, or null when it was not a refresh (seed, sign-in).</param>
/// <param name="Attempts">Requests the refresh made to the token endpoint.</param>
internal sealed record SharedCredentials(long Generation, TokenPair? Credentials, string? Failure, bool Announce, string? Trigger, int Attempts);

/// <summary>Link → TokenActor: the refresh of <paramref name="Generation"/> failed for a passing reason; the waiting calls fail, the pair stays.</summary>
internal sealed record SharedRefreshFailed(long Generation, string Reason, int Attempts);
