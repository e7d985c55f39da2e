using System.Buffers.Text;
using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Courier.Sandbox.Auth;

namespace Courier.Sandbox;

/// <summary>
/// The state of the sandbox OAuth 2.0 authorization server: issued access tokens (HS256 JWTs), refresh-token
/// families with rotation and reuse detection, counters and test controls. Thread-safe; no global lock.
/// </summary>
/// <remarks>
/// Every refresh token belongs to a family created at login. With rotation, a refresh atomically marks the
/// presented token used (compare-and-swap), so of two concurrent refreshes with the same token exactly one wins;
/// the other is a reuse which, with <see cref="SandboxAuthOptions.ReuseDetection"/>, revokes the whole family.
/// </remarks>
public sealed class SandboxAuthority
{
    private readonly ConcurrentDictionary<string, AccessTokenRecord> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, RefreshTokenRecord> _refreshTokens = new(StringComparer.Ordinal);
    private readonly JwtWriter _jwt = new();
    private readonly TimeProvider _time;

    private long _familySequence;
    private long _revokedThroughFamily;
    private long _accessSequence;
    private long _expiredThroughAccess;
    private long _refreshLatencyTicks;
    private long _pendingRefreshFailures; // (statusCode << 32) | remaining count

    private long _logins;
    private long _refreshesPerformed;
    private long _reuseEvents;
    private long _rejectedExpired;
    private long _rejectedInvalid;

    internal SandboxAuthority(SandboxAuthOptions options, TimeProvider time)
    {
        Options = options;
        _time = time;
    }

    /// <summary>The live settings of this server; changes apply to later requests.</summary>
    public SandboxAuthOptions Options { get; }

    /// <summary>Delay applied to every refresh request (<c>/auth/refresh</c> and the OAuth refresh_token grant).</summary>
    public TimeSpan RefreshLatency
    {
        get => TimeSpan.FromTicks(Interlocked.Read(ref _refreshLatencyTicks));
        set => Interlocked.Exchange(ref _refreshLatencyTicks, Math.Max(0, value.Ticks));
    }

    /// <summary>Successful refreshes (both formats).</summary>
    public long RefreshesPerformed => Interlocked.Read(ref _refreshesPerformed);

    /// <summary>Rotated refresh tokens presented again.</summary>
    public long ReuseEvents => Interlocked.Read(ref _reuseEvents);

    /// <summary>Protected-resource requests refused because the access token had expired.</summary>
    public long RejectedExpired => Interlocked.Read(ref _rejectedExpired);

    /// <summary>Protected-resource requests refused for a missing, unknown or revoked access token.</summary>
    public long RejectedInvalid => Interlocked.Read(ref _rejectedInvalid);

    /// <summary>Successful logins (JSON, OAuth password grant and <see cref="IssueTokens"/>).</summary>
    public long Logins => Interlocked.Read(ref _logins);

    /// <summary>Returns all counters at once.</summary>
    public SandboxAuthStats GetStats() =>
        new(Logins, RefreshesPerformed, ReuseEvents, RejectedExpired, RejectedInvalid);

    /// <summary>Sets every counter back to zero (tokens are untouched).</summary>
    public void ResetCounters()
    {
        Interlocked.Exchange(ref _logins, 0);
        Interlocked.Exchange(ref _refreshesPerformed, 0);
        Interlocked.Exchange(ref _reuseEvents, 0);
        Interlocked.Exchange(ref _rejectedExpired, 0);
        Interlocked.Exchange(ref _rejectedInvalid, 0);
        Interlocked.Exchange(ref _clientCredentialsGrants, 0);
    }

    /// <summary>Makes every access token issued so far expired, now; tokens issued later are unaffected.</summary>
    public void ExpireAccessTokens() => RaiseTo(ref _expiredThroughAccess, Interlocked.Read(ref _accessSequence));

    /// <summary>Revokes every token family issued so far, with all of their refresh and access tokens.</summary>
    public void RevokeAll() => RaiseTo(ref _revokedThroughFamily, Interlocked.Read(ref _familySequence));

    /// <summary>
    /// The next <paramref name="count"/> refresh requests are answered with <paramref name="statusCode"/>
    /// (e.g. 503 transient, 400 <c>invalid_grant</c> definitive) without consuming the refresh token.
    /// Replaces any failures still pending; a count of 0 cancels them.
    /// </summary>
    public void FailNextRefreshes(int count, int statusCode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfLessThan(statusCode, 100);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(statusCode, 599);
        Interlocked.Exchange(ref _pendingRefreshFailures, ((long)statusCode << 32) | (uint)count);
    }

    /// <summary>Performs a login in-process (counted in <see cref="Logins"/>) and returns the new tokens.</summary>
    public (string AccessToken, string RefreshToken, int ExpiresIn) IssueTokens()
    {
        var grant = Login(Options.Username);
        return (grant.AccessToken, grant.RefreshToken!, grant.ExpiresIn);
    }

    internal bool CheckUser(string? username, string? password) =>
        FixedTimeEquals(username, Options.Username) & FixedTimeEquals(password, Options.Password);

    internal bool CheckClient(string? clientId, string? clientSecret) =>
        FixedTimeEquals(clientId, Options.ClientId) & FixedTimeEquals(clientSecret, Options.ClientSecret);

    /// <summary>Starts a new token family for <paramref name="subject"/> and issues its first tokens.</summary>
    internal TokenGrant Login(string subject)
    {
        var family = new TokenFamily(NewId(16), Interlocked.Increment(ref _familySequence), subject);
        var refresh = AddRefreshToken(family, family.Generation);
        var access = IssueAccessToken(family, family.Generation);
        Interlocked.Increment(ref _logins);
        return new TokenGrant(access.Token, refresh.Token, ExpiresInSeconds);
    }

    /// <summary>Client credentials grants issued (RFC 6749 §4.4): one access token each, no refresh token.</summary>
    public long ClientCredentialsGrants => Interlocked.Read(ref _clientCredentialsGrants);

    /// <summary>The scope, resources (RFC 8707) and audience of the last client credentials request, as sent.</summary>
    public (string? Scope, IReadOnlyList<string?> Resources, string? Audience) LastClientCredentialsRequest
    {
        get
        {
            lock (_clientCredentialsLock) return _lastClientCredentials;
        }
    }

    private long _clientCredentialsGrants;
    private readonly Lock _clientCredentialsLock = new();
    private (string? Scope, IReadOnlyList<string?> Resources, string? Audience) _lastClientCredentials = (null, [], null);

    /// <summary>Issues an access token to the client itself: its own family (subject <c>client:{id}</c>), no refresh token.</summary>
    internal TokenGrant GrantClientCredentials(string clientId, string? scope, IReadOnlyList<string?> resources, string? audience)
    {
        lock (_clientCredentialsLock) _lastClientCredentials = (scope, resources, audience);
        var family = new TokenFamily(NewId(16), Interlocked.Increment(ref _familySequence), "client:" + clientId);
        var access = IssueAccessToken(family, family.Generation);
        Interlocked.Increment(ref _clientCredentialsGrants);
        return new TokenGrant(access.Token, null, ExpiresInSeconds);
    }

    /// <summary>Consumes one pending injected refresh failure, if any.</summary>
    internal bool TryTakeRefreshFailure(out int statusCode)
    {
        while (true)
        {
            var pending = Interlocked.Read(ref _pendingRefreshFailures);
            var remaining = (uint)pending;
            if (remaining == 0)
            {
                statusCode = 0;
                return false;
            }

            if (Interlocked.CompareExchange(ref _pendingRefreshFailures, pending - 1, pending) == pending)
            {
                statusCode = (int)(pending >> 32);
                return true;
            }
        }
    }

    /// <summary>Exchanges a refresh token for new tokens, rotating it and detecting reuse as configured.</summary>
    internal RefreshFailure TryRefresh(string? refreshToken, out TokenGrant grant)
    {
        grant = default;
        if (string.IsNullOrEmpty(refreshToken) || !_refreshTokens.TryGetValue(refreshToken, out var presented))
        {
            return RefreshFailure.Unknown;
        }

        var family = presented.Family;
        if (IsRevoked(family))
        {
            return RefreshFailure.Revoked;
        }

        var rotate = Options.RotateRefreshTokens;
        var won = rotate ? presented.TryMarkUsed() : !presented.IsUsed;
        if (!won)
        {
            if (Options.ReuseDetection)
            {
                family.Revoke();
                Interlocked.Increment(ref _reuseEvents);
            }

            return RefreshFailure.Reused;
        }

        var generation = family.NextGeneration();
        var next = rotate ? AddRefreshToken(family, generation) : null;
        var access = IssueAccessToken(family, generation);

        // If a concurrent reuse revokes the family from here on, these tokens die with it (the winner of a
        // race still gets its answer, so exactly one of two concurrent refreshes succeeds).
        Interlocked.Increment(ref _refreshesPerformed);
        grant = new TokenGrant(access.Token, next?.Token, ExpiresInSeconds);
        return RefreshFailure.None;
    }

    /// <summary>Checks an access token presented to a protected resource and counts rejections.</summary>
    internal AccessTokenStatus Authenticate(string? accessToken, out AccessTokenRecord? record)
    {
        var status = Validate(accessToken, out record);
        if (status == AccessTokenStatus.Expired)
        {
            Interlocked.Increment(ref _rejectedExpired);
        }
        else if (status != AccessTokenStatus.Valid)
        {
            Interlocked.Increment(ref _rejectedInvalid);
        }

        return status;
    }

    private AccessTokenStatus Validate(string? accessToken, out AccessTokenRecord? record)
    {
        record = null;
        if (string.IsNullOrEmpty(accessToken))
        {
            return AccessTokenStatus.Missing;
        }

        // The table of issued tokens is authoritative: a tampered token (signature included) is simply unknown.
        if (!_accessTokens.TryGetValue(accessToken, out var found))
        {
            return AccessTokenStatus.Invalid;
        }

        if (IsRevoked(found.Family))
        {
            return AccessTokenStatus.Revoked;
        }

        if (found.Sequence <= Interlocked.Read(ref _expiredThroughAccess) || _time.GetUtcNow() >= found.ExpiresAt)
        {
            return AccessTokenStatus.Expired;
        }

        record = found;
        return AccessTokenStatus.Valid;
    }

    private int ExpiresInSeconds => (int)Math.Clamp(Math.Ceiling(Options.AccessTokenLifetime.TotalSeconds), 0, int.MaxValue);

    private bool IsRevoked(TokenFamily family) =>
        family.IsRevoked || family.Sequence <= Interlocked.Read(ref _revokedThroughFamily);

    private RefreshTokenRecord AddRefreshToken(TokenFamily family, int generation)
    {
        while (true)
        {
            var record = new RefreshTokenRecord(NewId(32), family, generation);
            if (_refreshTokens.TryAdd(record.Token, record))
            {
                return record;
            }
        }
    }

    private AccessTokenRecord IssueAccessToken(TokenFamily family, int generation)
    {
        var issuedAt = _time.GetUtcNow();
        var expiresAt = issuedAt + Options.AccessTokenLifetime;
        var jti = NewId(16);
        var token = _jwt.Create(family.Subject, issuedAt, expiresAt, jti, family.Id, generation);
        var record = new AccessTokenRecord(token, jti, family, generation, Interlocked.Increment(ref _accessSequence), expiresAt);
        _accessTokens[token] = record;
        return record;
    }

    private static string NewId(int bytes) => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(bytes));

    private static bool FixedTimeEquals(string? presented, string expected) =>
        presented is not null
        && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(presented), Encoding.UTF8.GetBytes(expected));

    private static void RaiseTo(ref long target, long value)
    {
        long current;
        while (value > (current = Interlocked.Read(ref target))
               && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
