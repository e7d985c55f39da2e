namespace Courier.Auth;

/// <summary>
/// A token the TokenActor would hand out right now, published for calls to read at send time instead of asking it
/// (one message round trip less per call). The TokenActor stays the only writer of the credentials: it publishes a
/// snapshot when it enters <c>Ready</c> with a token and withdraws it when it leaves (refreshing, storing, signed out,
/// loading, stopped). A refused token still goes to the actor as a <see cref="TokenRejected"/> with its generation.
/// </summary>
/// <param name="AccessToken">The token (never logged).</param>
/// <param name="Generation">Its generation, as a <see cref="TokenGranted"/> would carry.</param>
/// <param name="ExpiresAt">When it expires, if known: after that the snapshot is not used (the actor refreshes first).</param>
internal sealed record TokenSnapshot(string AccessToken, long Generation, DateTimeOffset? ExpiresAt)
{
    /// <summary>The check the TokenActor makes before it grants a token (<c>IsUsable</c>), at <paramref name="now"/>.</summary>
    public bool IsUsableAt(DateTimeOffset now) => ExpiresAt is not { } expires || expires > now;

    /// <inheritdoc />
    public override string ToString() => $"TokenSnapshot({TokenFingerprint.Of(AccessToken)}, generation {Generation})";
}

/// <summary>
/// Where one TokenActor publishes its <see cref="TokenSnapshot"/>: written by that actor only, read by any RequestActor.
/// Empty means "ask the actor" (the old message path), which is always correct.
/// </summary>
internal sealed class TokenSnapshotCell
{
    private TokenSnapshot? _current;

    /// <summary>The published snapshot, or null when calls must ask the actor.</summary>
    public TokenSnapshot? Current => Volatile.Read(ref _current);

    /// <summary>The snapshot if its token may be sent at <paramref name="now"/>; null: ask the actor.</summary>
    public TokenSnapshot? TryGet(DateTimeOffset now) => Current is { } snapshot && snapshot.IsUsableAt(now) ? snapshot : null;

    /// <summary>Publishes <paramref name="snapshot"/> (null withdraws it). Called by the owning TokenActor only.</summary>
    public void Publish(TokenSnapshot? snapshot) => Volatile.Write(ref _current, snapshot);
}
