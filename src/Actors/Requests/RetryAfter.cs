using System.Globalization;
using System.Net.Http.Headers;

namespace Courier.Requests;

/// <summary>Reads <c>Retry-After</c> (RFC 9110 §10.2.3) in both of its forms.</summary>
internal static class RetryAfter
{
    /// <summary>The wait the server asked for, relative to <paramref name="now"/>; null when absent or unreadable.</summary>
    public static TimeSpan? Parse(HttpResponseHeaders headers, DateTimeOffset now)
    {
        var value = headers.RetryAfter;
        if (value is null)
        {
            // HttpClient rejects some values it cannot parse into RetryConditionHeaderValue; read the raw text too.
            return headers.TryGetValues("Retry-After", out var raw) ? ParseRaw(raw.FirstOrDefault(), now) : null;
        }
        if (value.Delta is { } delta) return delta < TimeSpan.Zero ? TimeSpan.Zero : delta;
        if (value.Date is { } date) return date <= now ? TimeSpan.Zero : date - now;
        return null;
    }

    public static TimeSpan? ParseRaw(string? raw, DateTimeOffset now)
    {
        if (string.IsNullOrWhiteSpace(raw)) return null;
        raw = raw.Trim();
        if (long.TryParse(raw, NumberStyles.None, CultureInfo.InvariantCulture, out var seconds))
            return TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.MaxValue.TotalSeconds - 1));
        if (DateTimeOffset.TryParseExact(raw, "r", CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date))
            return date <= now ? TimeSpan.Zero : date - now;
        return null;
    }
}
