namespace Courier.Sandbox.Auth;

/// <summary>
/// A refresh-token family: created at login, grown by each rotation, revoked as a whole on reuse (RFC 9700 §4.14.2).
/// </summary>
internal sealed class TokenFamily(string id, long sequence, string subject)
{
    private int _generation = 1;
    private volatile bool _revoked;

    /// <summary>Random public id, carried by access tokens as the <c>fam</c> claim.</summary>
    public string Id { get; } = id;

    /// <summary>Creation order among all families, used by <see cref="SandboxAuthority.RevokeAll"/>.</summary>
    public long Sequence { get; } = sequence;

    public string Subject { get; } = subject;

    /// <summary>True once the family itself was revoked (reuse detected).</summary>
    public bool IsRevoked => _revoked;

    /// <summary>Generation of the latest tokens of this family (1 for those issued at login).</summary>
    public int Generation => Volatile.Read(ref _generation);

    public int NextGeneration() => Interlocked.Increment(ref _generation);

    public void Revoke() => _revoked = true;
}
