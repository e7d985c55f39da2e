using System.Buffers.Text;
using System.Text.Json;

namespace Courier.Auth;

/// <summary>Reads the <c>exp</c> claim of a JWT access token, without validating it (that is the server's job).</summary>
public static class JwtExpiry
{
    /// <summary>The token's expiry, or null when it is not a JWT or has no numeric <c>exp</c>.</summary>
    public static DateTimeOffset? TryRead(string? token)
    {
        if (string.IsNullOrEmpty(token)) return null;
        var first = token.IndexOf('.');
        if (first <= 0) return null;
        var second = token.IndexOf('.', first + 1);
        if (second < 0) return null;
        var payload = token.AsSpan(first + 1, second - first - 1);
        if (payload.Length > 16 * 1024) return null;

        var bytes = new byte[Base64Url.GetMaxDecodedLength(payload.Length)];
        if (!Base64Url.TryDecodeFromChars(payload, bytes, out var written)) return null;
        try
        {
            var reader = new Utf8JsonReader(bytes.AsSpan(0, written));
            using var doc = JsonDocument.ParseValue(ref reader);
            if (doc.RootElement.ValueKind == JsonValueKind.Object &&
                doc.RootElement.TryGetProperty("exp", out var exp) && exp.TryGetDouble(out var seconds) &&
                seconds is > 0 and < 253402300799)
                return DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000));
        }
        catch (JsonException)
        {
        }
        return null;
    }
}
