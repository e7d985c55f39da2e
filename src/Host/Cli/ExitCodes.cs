namespace Courier.Host.Cli;

/// <summary>The program's exit codes, the same for every command.</summary>
internal static class ExitCodes
{
    /// <summary>Everything succeeded.</summary>
    public const int Success = 0;
    /// <summary>Some calls or transfers failed.</summary>
    public const int SomeFailed = 1;
    /// <summary>The command line or configuration was wrong.</summary>
    public const int Usage = 2;
    /// <summary>Authentication failed (refresh refused, signed out).</summary>
    public const int AuthenticationFailed = 3;
    /// <summary>Cancelled (Ctrl+C).</summary>
    public const int Cancelled = 130;
}

/// <summary>A mistake of the user's (bad URL, missing file...): one clear line on stderr, exit code 2, no stack trace.</summary>
internal sealed class UsageException(string message) : Exception(message);
