using System.Text;

namespace Courier.Diagnostics;

/// <summary>
/// Renders a URL for logs and error messages without what may be secret in it: user info is dropped and
/// query values are masked (names stay, so the message still tells which call it was).
/// </summary>
public static class SafeUrl
{
    /// <summary>The URL with user info removed and every query value replaced by <c>***</c>.</summary>
    public static string Format(Uri? uri)
    {
        if (uri is null) return "(no url)";
        if (!uri.IsAbsoluteUri) return MaskQuery(uri.OriginalString);
        var builder = new StringBuilder(uri.Scheme.Length + uri.Host.Length + uri.AbsolutePath.Length + 16);
        builder.Append(uri.Scheme).Append("://").Append(uri.IdnHost);
        if (!uri.IsDefaultPort) builder.Append(':').Append(uri.Port);
        builder.Append(uri.AbsolutePath);
        if (uri.Query.Length > 1) AppendMaskedQuery(builder, uri.Query.AsSpan(1));
        return builder.ToString();
    }

    private static string MaskQuery(string relative)
    {
        var q = relative.IndexOf('?');
        if (q < 0) return relative;
        var builder = new StringBuilder(relative, 0, q, relative.Length);
        AppendMaskedQuery(builder, relative.AsSpan(q + 1));
        return builder.ToString();
    }

    private static void AppendMaskedQuery(StringBuilder builder, ReadOnlySpan<char> query)
    {
        var hash = query.IndexOf('#');
        if (hash >= 0) query = query[..hash];
        var first = true;
        foreach (var range in query.Split('&'))
        {
            var pair = query[range];
            if (pair.IsEmpty) continue;
            builder.Append(first ? '?' : '&');
            first = false;
            var eq = pair.IndexOf('=');
            builder.Append(eq < 0 ? pair : pair[..eq]);
            if (eq >= 0) builder.Append("=***");
        }
    }
}
