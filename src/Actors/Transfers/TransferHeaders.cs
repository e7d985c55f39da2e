using System.Globalization;
using System.Net.Http.Headers;

namespace Courier.Transfers;

/// <summary>The HTTP header work of transfers: RFC 9530 digests, tus headers (validators are <see cref="PartialFile"/>'s).</summary>
internal static class TransferHeaders
{
    public const string TusResumable = "Tus-Resumable";
    public const string TusVersion = "1.0.0";
    public const string UploadOffset = "Upload-Offset";
    public const string UploadLength = "Upload-Length";
    public const string UploadMetadata = "Upload-Metadata";
    public const string OffsetOctetStream = "application/offset+octet-stream";

    /// <summary>
    /// The SHA-256 the server declares for the response: <c>Repr-Digest</c> (the whole representation, valid for every
    /// range) or, on a full 200 only, <c>Content-Digest</c> (which covers just this message's content).
    /// </summary>
    public static byte[]? DeclaredSha256(HttpResponseMessage response, bool fullBody)
    {
        var digest = Sha256From(response, "Repr-Digest");
        if (digest is null && fullBody) digest = Sha256From(response, "Content-Digest");
        return digest;
    }

    /// <summary>
    /// May a handler below the runtime have decoded this body? A handler with automatic decompression (one the application
    /// gave, <see cref="HttpRuntime.Start(Akka.Actor.ActorSystem, HttpRuntimeOptions, HttpMessageHandler, string)"/>) adds
    /// the codings it decodes to the request's <c>Accept-Encoding</c> and removes <c>Content-Encoding</c> and
    /// <c>Content-Length</c> from a body it decoded: such a body's offsets are not the server's, and a
    /// <c>Repr-Digest</c>/<c>Content-Digest</c> (which covers the encoded bytes, RFC 9530) cannot be checked against it.
    /// Only codings the transfer did not ask for itself (<paramref name="asked"/>: <c>identity</c>, or the caller's own
    /// <c>Accept-Encoding</c>) count: a caller who asks for gzip and gets a length-less identity body still has its digest checked.
    /// </summary>
    public static bool MayBeDecoded(HttpResponseMessage response, string asked)
    {
        if (response.Content.Headers.ContentEncoding.Count > 0 || response.Content.Headers.ContentLength is not null) return false;
        if (response.RequestMessage is not { } request) return false;
        foreach (var coding in request.Headers.AcceptEncoding)
        {
            if (string.Equals(coding.Value, "identity", StringComparison.OrdinalIgnoreCase) || coding.Quality is 0) continue;
            if (!Codings(asked).Contains(coding.Value, StringComparer.OrdinalIgnoreCase)) return true; // added below the runtime
        }
        return false;
    }

    /// <summary>The <c>Accept-Encoding</c> a transfer sends: the caller's own, else <c>identity</c>.</summary>
    public static string AcceptEncodingFor(IReadOnlyList<KeyValuePair<string, string>> callerHeaders)
    {
        foreach (var (name, value) in callerHeaders)
            if (string.Equals(name, "Accept-Encoding", StringComparison.OrdinalIgnoreCase)) return value;
        return "identity";
    }

    private static IEnumerable<string> Codings(string acceptEncoding) =>
        acceptEncoding.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(member => member.Split(';')[0].Trim());

    /// <summary>The header value <c>sha-256=:base64:</c>.</summary>
    public static string FormatSha256(ReadOnlySpan<byte> digest) => "sha-256=:" + Convert.ToBase64String(digest) + ":";

    /// <summary>Parses the sha-256 member of an RFC 9530 dictionary (<c>sha-256=:AAA=:, sha-512=:...:</c>); null when absent or malformed.</summary>
    public static byte[]? ParseSha256(string value)
    {
        foreach (var member in value.Split(','))
        {
            var eq = member.IndexOf('=');
            if (eq < 0 || !member.AsSpan(0, eq).Trim().Equals("sha-256", StringComparison.OrdinalIgnoreCase)) continue;
            var raw = member.AsSpan(eq + 1).Trim();
            if (raw.Length < 2 || raw[0] != ':' || raw[^1] != ':') return null;
            var bytes = new byte[32];
            return Convert.TryFromBase64Chars(raw[1..^1], bytes, out var written) && written == 32 ? bytes : null;
        }
        return null;
    }

    /// <summary>A 64-character hex SHA-256 as bytes; throws <see cref="ArgumentException"/> otherwise.</summary>
    public static byte[] ParseHexSha256(string hex)
    {
        try
        {
            var bytes = Convert.FromHexString(hex.Trim());
            if (bytes.Length == 32) return bytes;
        }
        catch (FormatException)
        {
        }
        throw new ArgumentException($"'{hex}' is not a SHA-256 in hex (64 characters).", nameof(hex));
    }

    /// <summary>The <c>Upload-Offset</c> of a tus answer, or null when it is missing or not a number.</summary>
    public static long? TusOffset(HttpResponseMessage response) => LongHeader(response.Headers, UploadOffset);

    /// <summary>The <c>Upload-Length</c> of a tus answer, or null.</summary>
    public static long? TusLength(HttpResponseMessage response) => LongHeader(response.Headers, UploadLength);

    /// <summary>The extensions a tus server lists in <c>Tus-Extension</c> (comma-separated), empty when it lists none.</summary>
    public static IReadOnlyList<string> TusExtensions(HttpResponseMessage response) =>
        response.Headers.TryGetValues("Tus-Extension", out var values)
            ? values.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray()
            : [];

    /// <summary>tus <c>Upload-Metadata</c>: comma-separated <c>key base64(value)</c> pairs.</summary>
    public static string TusMetadata(IEnumerable<KeyValuePair<string, string>> pairs) =>
        string.Join(',', pairs.Select(p => p.Key + " " + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(p.Value))));

    private static byte[]? Sha256From(HttpResponseMessage response, string name)
    {
        if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
            foreach (var value in values)
                if (ParseSha256(value) is { } digest) return digest;
        return null;
    }

    private static long? LongHeader(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) && long.TryParse(values.FirstOrDefault(), NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value
            : null;
}
