using System.Net.Http.Json;
using Courier.Auth;

namespace Courier.Bench;

/// <summary>
/// The Sandbox's authorization-server controls over HTTP (<c>/_sandbox/auth/...</c>, see src/Sandbox/README.md), for a
/// server in another process: issue a login, expire every access token issued so far, read the counters.
/// </summary>
internal sealed class SandboxControl(Uri baseAddress) : IDisposable
{
    // Its own connection: control calls never queue behind the load being measured.
    private readonly HttpClient _http = new() { BaseAddress = baseAddress };

    /// <summary>A login (<c>POST /_sandbox/auth/issue</c>): a new token family and its first pair.</summary>
    public async Task<TokenPair> IssueTokensAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync("_sandbox/auth/issue", null, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
        var grant = await response.Content.ReadFromJsonAsync<Grant>(cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException("empty answer from /_sandbox/auth/issue");
        return new TokenPair(grant.AccessToken, grant.RefreshToken);
    }

    /// <summary><c>POST /_sandbox/auth/expire</c>: every access token issued so far is expired from now on.</summary>
    public async Task ExpireAccessTokensAsync(CancellationToken cancellationToken)
    {
        using var response = await _http.PostAsync("_sandbox/auth/expire", null, cancellationToken).ConfigureAwait(false);
        response.EnsureSuccessStatusCode();
    }

    /// <summary><c>GET /_sandbox/auth/stats</c>.</summary>
    public async Task<AuthStats> GetAuthStatsAsync(CancellationToken cancellationToken) =>
        await _http.GetFromJsonAsync<AuthStats>("_sandbox/auth/stats", cancellationToken).ConfigureAwait(false)
        ?? throw new InvalidOperationException("empty answer from /_sandbox/auth/stats");

    public void Dispose() => _http.Dispose();

    private sealed record Grant(string AccessToken, string RefreshToken);
}

/// <summary>The authorization server's counters (<c>GET /_sandbox/auth/stats</c>).</summary>
internal sealed record AuthStats(long Logins, long RefreshesPerformed, long ReuseEvents, long RejectedExpired, long RejectedInvalid)
{
    public static AuthStats operator -(AuthStats after, AuthStats before) => new(
        after.Logins - before.Logins, after.RefreshesPerformed - before.RefreshesPerformed, after.ReuseEvents - before.ReuseEvents,
        after.RejectedExpired - before.RejectedExpired, after.RejectedInvalid - before.RejectedInvalid);
}
