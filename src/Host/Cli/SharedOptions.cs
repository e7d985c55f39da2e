using System.CommandLine;

namespace Courier.Host.Cli;

/// <summary>
/// Options every command takes. Each maps onto a configuration key, so the usual .NET precedence holds:
/// command line over environment variables (<c>Courier__Auth__RefreshToken</c>) over <c>appsettings.json</c>.
/// </summary>
internal sealed class SharedOptions
{
    public Option<string?> AccessToken { get; } = new("--access-token") { Description = "Access token to start with (never echoed).", Recursive = true };
    public Option<string?> RefreshToken { get; } = new("--refresh-token") { Description = "Refresh token (never echoed).", Recursive = true };
    public Option<string?> TokenStore { get; } = new("--token-store") { Description = "File that keeps the credentials between runs (owner-only, atomic writes).", Recursive = true };
    public Option<string?> RefreshUrl { get; } = new("--refresh-url") { Description = "Token endpoint (https, or loopback).", Recursive = true };
    public Option<string?> RefreshFormat { get; } = new("--refresh-format") { Description = "Token endpoint format: json (the seeds' contract) or oauth2 (RFC 6749).", Recursive = true };
    public Option<string?> ClientId { get; } = new("--client-id") { Description = "OAuth 2.0 client id.", Recursive = true };
    public Option<string?> ClientSecret { get; } = new("--client-secret") { Description = "OAuth 2.0 client secret (never echoed).", Recursive = true };
    public Option<int?> Retries { get; } = new("--retries") { Description = "Retries per call (default 2), and per chunk of a transfer (default 5).", Recursive = true };
    public Option<int?> Concurrency { get; } = new("--concurrency", "-c") { Description = "Most calls in flight at once (default 256).", Recursive = true };
    public Option<double?> Timeout { get; } = new("--timeout") { Description = "Per-attempt timeout in seconds (default 15).", Recursive = true };
    public Option<bool> Verbose { get; } = new("--verbose", "-v") { Description = "Show every attempt, and stack traces on errors.", Recursive = true };
    public Option<bool> Json { get; } = new("--json") { Description = "Machine-readable output.", Recursive = true };
    public Option<bool> Plain { get; } = new("--plain") { Description = "Plain lines, no live display (automatic when output is redirected or CI=true).", Recursive = true };

    public void AddTo(Command root)
    {
        foreach (var option in new Option[] { AccessToken, RefreshToken, TokenStore, RefreshUrl, RefreshFormat, ClientId, ClientSecret,
                     Retries, Concurrency, Timeout, Verbose, Json, Plain })
            root.Options.Add(option);
    }

    /// <summary>The configuration keys the command line sets (only the options given).</summary>
    public Dictionary<string, string?> ToConfiguration(ParseResult parse)
    {
        var values = new Dictionary<string, string?>();
        void Set(string key, string? value) { if (value is not null) values[key] = value; }

        Set("Courier:Auth:AccessToken", parse.GetValue(AccessToken));
        Set("Courier:Auth:RefreshToken", parse.GetValue(RefreshToken));
        Set("Courier:Auth:TokenStorePath", parse.GetValue(TokenStore));
        Set("Courier:Auth:RefreshEndpoint", parse.GetValue(RefreshUrl));
        Set("Courier:Auth:ClientId", parse.GetValue(ClientId));
        Set("Courier:Auth:ClientSecret", parse.GetValue(ClientSecret));
        if (parse.GetValue(RefreshFormat) is { } format)
        {
            Set("Courier:Auth:Format", format.ToLowerInvariant() switch
            {
                "json" => "Json",
                "oauth2" or "oauth" => "OAuth2",
                _ => throw new UsageException($"--refresh-format must be json or oauth2, not '{format}'."),
            });
        }
        Set("Courier:Retry:MaxRetries", parse.GetValue(Retries)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set("Courier:Transfers:MaxRetriesPerChunk", parse.GetValue(Retries)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Set("Courier:MaxConcurrentCalls", parse.GetValue(Concurrency)?.ToString(System.Globalization.CultureInfo.InvariantCulture));
        if (parse.GetValue(Timeout) is { } seconds) Set("Courier:AttemptTimeout", TimeSpan.FromSeconds(seconds).ToString("c"));
        return values;
    }

    /// <summary>Live display only on a terminal, never under CI or when asked for plain/JSON output.</summary>
    public bool IsInteractive(ParseResult parse) =>
        !parse.GetValue(Plain) && !parse.GetValue(Json) && !Console.IsOutputRedirected && !Console.IsErrorRedirected &&
        !string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);
}
