using System.CommandLine;

namespace Courier.Host.Cli;

/// <summary>Arguments more than one command takes (a URL, <c>-H</c> headers, <c>name=value</c> pairs), checked the same way.</summary>
internal static class CommandArguments
{
    /// <summary><c>-H "Name: value"</c>, repeatable.</summary>
    public static Option<string[]> HeaderOption() =>
        new("--header", "-H") { Description = "A request header, \"Name: value\" (repeatable).", AllowMultipleArgumentsPerToken = false };

    /// <summary>
    /// <c>--show-sha256</c> of <c>upload</c> and <c>download</c>: compute the file's SHA-256 and print it. Off by default: it is a
    /// pass of SHA-256 over every byte (about 0.3 s of CPU per 512 MiB here), which a transfer with nothing to verify does
    /// not need; a download that verifies a digest (<c>--sha256</c>, or one the server sends) prints it anyway.
    /// </summary>
    public static Option<bool> ShowSha256Option() =>
        new("--show-sha256") { Description = "Also compute and print the file's SHA-256 (a download that verifies a digest prints it anyway)." };

    /// <summary>An absolute http or https URL, else a usage error.</summary>
    public static Uri ParseUrl(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
            throw new UsageException($"'{text}' is not an absolute http(s) URL.");
        return url;
    }

    /// <summary>Each <c>"Name: value"</c> as a pair, in order; a text without a name and a colon is a usage error.</summary>
    public static List<KeyValuePair<string, string>> ParseHeaders(IEnumerable<string> texts) =>
        Split(texts, ':', trimValue: true, text => $"-H '{text}' is not \"Name: value\".");

    /// <summary>Each <c>name=value</c> as a pair, in order; the value is kept as given (it may be empty, or contain '=').</summary>
    public static List<KeyValuePair<string, string>> ParseFields(IEnumerable<string> texts, string optionName) =>
        Split(texts, '=', trimValue: false, text => $"{optionName} '{text}' is not name=value.");

    private static List<KeyValuePair<string, string>> Split(IEnumerable<string> texts, char separator, bool trimValue, Func<string, string> error)
    {
        var pairs = new List<KeyValuePair<string, string>>();
        foreach (var text in texts)
        {
            var at = text.IndexOf(separator);
            if (at <= 0 || text[..at].Trim().Length == 0) throw new UsageException(error(text));
            var value = text[(at + 1)..];
            pairs.Add(new(text[..at].Trim(), trimValue ? value.Trim() : value));
        }
        return pairs;
    }
}
