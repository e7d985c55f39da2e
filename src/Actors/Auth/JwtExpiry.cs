using System.Buffers.Text;
using System.Text.Json;

namespace Courier.Auth;

/// <summary>Reads the <c>exp</c> claim of a JWT access token, without validating it (that is the server's job).</summary>
public static class JwtExpiry
{
    /// <summary>
    /// The token's expiry, or null when it is not a JWT or has no numeric <c>exp</c>. Never throws: an access token is
    /// opaque to the client (RFC 6749 §1.4), so one that only looks like a JWT is a token of unknown expiry.
    /// </summary>
    public static DateTimeOffset? TryRead(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        var first = token.IndexOf('.');
        if (first <= 0) return null;
        var second = token.IndexOf('.', first + 1);
        if (second < 0) return null;
        var payload = token.AsSpan(first + 1, second - first - 1);
        if (payload.Length > 16 * 1024) return null;

        // TryDecodeFromChars throws on a character outside base64url (an opaque token with dots and '+' or '/'): check first.
        if (!Base64Url.IsValid(payload, out var length)) return null;
        var bytes = new byte[length];
        if (!Base64Url.TryDecodeFromChars(payload, bytes, out var written)) return null;
        try
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(0, written));
            using var doc = JsonDocument.ParseValue(ref reader);
            // RFC 7519 §4.1.4: exp is a NumericDate, a JSON number (TryGetDouble throws on any other kind), up to the last
            // second a DateTimeOffset holds (9999-12-31T23:59:59Z, 253402300799).
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("exp", out var exp) && exp.ValueKind == JsonValueKind.Number &&
                exp.TryGetDouble(out var seconds) && seconds is > 0 and < 253402300800)
                return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
        }
        catch (JsonException)
        {
        }
        return null;
    }
}
