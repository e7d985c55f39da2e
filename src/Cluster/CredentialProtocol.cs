using Courier.Auth;

namespace Courier.Cluster;

// Messages that cross nodes: small immutable records of primitives and TokenPair, serialized by Akka's default
// serializer. Their ToString shows token fingerprints only (TokenPair.ToString).

/// <summary>
/// The replicated state of the shared credential, the value of the <c>LWWRegister</c>: the register's clock is
/// <see cref="Generation"/>, so replicas converge on the highest generation, never on the latest wall clock.
/// </summary>
/// <param name="Generation">Increases with every new pair (refresh, sign-in, sign-out, refusal); 0 before any.</param>
/// <param name="Credentials">The pair, or null when there is none (see <paramref name="Failure"/>).</param>
/// <param name="Failure">Why there is no pair.</param>
/// <param name="Announce">True when the token endpoint refused the refresh token: every node publishes <see cref="AuthenticationFailed"/> once.</param>
/// <param name="Trigger">What started the refresh that made this pair; null for a seed or a sign-in.</param>
/// <param name="Attempts">Requests that refresh made to the token endpoint.</param>
internal sealed record CredentialRecord(long Generation, TokenPair? Credentials, string? Failure, bool Announce, string? Trigger, int Attempts)
{
    public SharedCredentials ToShared() => new(Generation, Credentials, Failure, Announce, Trigger, Attempts);
}

/// <summary>
/// Node → owner: the pair of <paramref name="Generation"/> was refused or is expiring; answered with <see cref="CredentialsUpdated"/>
/// or <see cref="CredentialRefreshFailed"/>. <paramref name="Known"/> is the newest record the node holds: an owner whose
/// register is behind it (an earlier owner's write reached fewer replicas than the cluster has now) continues from it.
/// </summary>
internal sealed record RefreshCredentials(long Generation, string Trigger, CredentialRecord? Known = null);

/// <summary>Node → owner: send the current record (a node that starts). Answered with <see cref="CredentialsUpdated"/>.</summary>
internal sealed record GetCredentials
{
    public static readonly GetCredentials Instance = new();
}

/// <summary>Node → owner: a sign-in (<paramref name="Credentials"/>) or a sign-out (null). Answered with <see cref="CredentialsReplaced"/>.</summary>
internal sealed record ReplaceCredentials(long RequestId, TokenPair? Credentials);

/// <summary>Owner → node: the current record, written to a majority.</summary>
internal sealed record CredentialsUpdated(CredentialRecord Record);

/// <summary>Owner → node: the answer to <see cref="ReplaceCredentials"/>, once written to a majority.</summary>
internal sealed record CredentialsReplaced(long RequestId, CredentialRecord Record);

/// <summary>Owner → nodes that waited: the refresh of <paramref name="Generation"/> failed for a passing reason; the pair is unchanged.</summary>
internal sealed record CredentialRefreshFailed(long Generation, string Reason, int Attempts);

/// <summary>The singleton manager's termination message: the owner finishes a refresh in progress (and its write) before it stops.</summary>
internal sealed record StopCredentialOwner
{
    public static readonly StopCredentialOwner Instance = new();
}

/// <summary>Asks the credential owner (through its proxy) for its state, for diagnostics and tests. Answered with <see cref="CredentialOwnerStatus"/>.</summary>
public sealed record GetCredentialOwnerStatus
{
    /// <summary>The one instance.</summary>
    public static readonly GetCredentialOwnerStatus Instance = new();
}

/// <summary>A snapshot of the credential owner.</summary>
/// <param name="State">Its state: <c>Starting</c>, <c>Ready</c>, <c>Refreshing</c> or <c>Writing</c>.</param>
/// <param name="Generation">The generation it holds.</param>
/// <param name="Node">The address of the node it runs on.</param>
/// <param name="Refreshes">Refreshes this instance performed (a new owner starts at 0).</param>
public sealed record CredentialOwnerStatus(string State, long Generation, string Node, long Refreshes);
