using System.Globalization;
using System.Net.Http.Headers;

namespace Courier.Requests.Hosts;

/// <summary>
/// Reads the quota a host announces in its response headers, in the three forms found on the web, into one
/// <see cref="RateLimitStatus"/>:
/// <list type="bullet">
/// <item>the IETF draft (draft-ietf-httpapi-ratelimit-headers-08 and later): <c>RateLimit-Policy: "default";q=100;w=60</c>
/// and <c>RateLimit: "default";r=50;t=30</c>, structured-field lists (RFC 8941) of one item per policy;</item>
/// <item>its older form (drafts up to -07): <c>RateLimit-Limit</c>, <c>RateLimit-Remaining</c>, <c>RateLimit-Reset</c>
/// (delta-seconds), with the policy as <c>RateLimit-Policy: 100;w=60</c> or inline in <c>RateLimit-Limit: 100, 100;w=60</c>;</item>
/// <item>the vendor form: <c>X-RateLimit-Limit</c>, <c>X-RateLimit-Remaining</c>, <c>X-RateLimit-Reset</c>, whose reset is
/// either delta-seconds or a Unix timestamp (GitHub): a value of at least <see cref="EpochSecondsFrom"/> is no window
/// anyone announces (31 years) and is read as epoch seconds, one of at least <see cref="EpochMillisecondsFrom"/> as epoch
/// milliseconds.</item>
/// </list>
/// When several forms are present, the IETF one wins, then the older one, then the vendor one. Of several limits, the
/// most restrictive counts: one with nothing remaining (the one that resets last), else the one with the least
/// remaining; of several policies, the one with the least quota per second among those short enough to pace by
/// (<see cref="AnnouncedQuota"/>), else among all. Only quotas counted in requests are read (a policy with <c>qu="content-bytes"</c> or
/// <c>"concurrent-requests"</c> and its limits are skipped). A malformed field is ignored, as the draft requires
/// (§7): never an exception. Pure: the clock is passed in (the actor system scheduler's <c>Now</c>), only to turn an
/// epoch reset into a delay.
/// </summary>
internal static class RateLimitHeaders
{
    /// <summary>The smallest vendor reset read as Unix epoch seconds (2001-09-09): no delta-seconds window is that long.</summary>
    public const long EpochSecondsFrom = 1_000_000_000;

    /// <summary>The smallest vendor reset read as Unix epoch milliseconds.</summary>
    public const long EpochMillisecondsFrom = 1_000_000_000_000;

    /// <summary>What <paramref name="headers"/> announce, or null when they announce nothing readable.</summary>
    public static RateLimitStatus? Parse(HttpResponseHeaders headers, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(headers);
        // One pass over the headers (a response has a handful): most have none of these, and cost a first-letter test each.
        // X-RateLimit-Limit is not read: without a window it says nothing a pause or a pace could use.
        string? ietf = null, policy = null, limit = null, remaining = null, reset = null, xRemaining = null, xReset = null;
        foreach (var (name, values) in headers.NonValidated)
        {
            if (name.Length < 9 || (name[0] | 0x20) is not ('r' or 'x')) continue;
            var value = values.Count == 1 ? values.ToString() : string.Join(", ", values); // SF: field lines join with a comma
            if (name.Equals("RateLimit", StringComparison.OrdinalIgnoreCase)) ietf = value;
            else if (name.Equals("RateLimit-Policy", StringComparison.OrdinalIgnoreCase)) policy = value;
            else if (name.Equals("RateLimit-Limit", StringComparison.OrdinalIgnoreCase)) limit = value;
            else if (name.Equals("RateLimit-Remaining", StringComparison.OrdinalIgnoreCase)) remaining = value;
            else if (name.Equals("RateLimit-Reset", StringComparison.OrdinalIgnoreCase)) reset = value;
            else if (name.Equals("X-RateLimit-Remaining", StringComparison.OrdinalIgnoreCase)) xRemaining = value;
            else if (name.Equals("X-RateLimit-Reset", StringComparison.OrdinalIgnoreCase)) xReset = value;
        }
        return Parse(ietf, policy, limit, remaining, reset, xRemaining, xReset, now);
    }

    /// <summary>The same from the raw field values (null: absent); for tests and for callers that hold the text.</summary>
    public static RateLimitStatus? Parse(string? rateLimit, string? policy, string? limit, string? remaining, string? reset,
        string? xRemaining, string? xReset, DateTimeOffset now)
    {
        if (rateLimit is null && policy is null && limit is null && remaining is null && xRemaining is null && xReset is null) return null;

        // The policies: the IETF form (string or token items with q and w) and the older one (integer items with w) share the name.
        var policies = ParsePolicies(policy, limit, out var otherUnits);

        long? left = null;
        TimeSpan? resetIn = null;
        if (rateLimit is not null && TryReadLimits(rateLimit, otherUnits, out var r, out var t))
        {
            left = r;
            resetIn = t;
        }
        else if (remaining is not null && TryReadCount(remaining, out var legacyLeft))
        {
            left = legacyLeft;
            resetIn = ReadReset(reset, now);
        }
        else if (xRemaining is not null && TryReadCount(xRemaining, out var vendorLeft))
        {
            left = vendorLeft;
            resetIn = ReadReset(xReset, now);
        }

        if (left is null && policies.Quota is null) return null;
        return new RateLimitStatus(left, resetIn, policies.Quota, policies.Window);
    }

    /// <summary>
    /// The tightest policy counted in requests with a window: the least quota per second of those whose window is short
    /// enough to pace by (<see cref="AnnouncedQuota.MaxPacingWindow"/>), else of all; also the names of policies counted
    /// in other units.
    /// </summary>
    private static (long? Quota, TimeSpan? Window) ParsePolicies(string? policy, string? limit, out List<string>? otherUnits)
    {
        otherUnits = null;
        long? bestQuota = null;
        TimeSpan? bestWindow = null;
        void Consider(long quota, long windowSeconds)
        {
            if (windowSeconds < 1 || windowSeconds > int.MaxValue) return;
            var window = TimeSpan.FromSeconds(windowSeconds);
            if (bestQuota is { } q && bestWindow is { } w)
            {
                bool Short(TimeSpan span) => span <= AnnouncedQuota.MaxPacingWindow;
                if (Short(w) && !Short(window)) return;
                if (Short(w) == Short(window) && quota / (double)windowSeconds >= q / w.TotalSeconds) return;
            }
            bestQuota = quota;
            bestWindow = window;
        }

        for (var pass = 0; pass < 2; pass++)
        {
            var field = pass == 0 ? policy : limit;
            if (field is null || !StructuredList.TryParse(field, out var items)) continue;
            foreach (var item in items)
            {
                long quota;
                if (item.Value is StructuredList.Bare.Integer count) quota = count.Value; // the older form: the item is the quota
                else if (item.Value is StructuredList.Bare.Text name && item.Parameters.TryGetValue("q", out var q) && q is StructuredList.Bare.Integer quotaValue)
                {
                    if (item.Parameters.TryGetValue("qu", out var unit) && !(unit is StructuredList.Bare.Text { Value: "requests" or "request" }))
                    {
                        (otherUnits ??= []).Add(name.Value);
                        continue;
                    }
                    quota = quotaValue.Value;
                }
                else continue;
                if (quota < 0) continue;
                if (item.Parameters.TryGetValue("w", out var window) && window is StructuredList.Bare.Integer seconds) Consider(quota, seconds.Value);
            }
        }
        return (bestQuota, bestWindow);
    }

    /// <summary>The most restrictive limit of an IETF <c>RateLimit</c> field: nothing left (resetting last), else the least left.</summary>
    private static bool TryReadLimits(string field, List<string>? otherUnits, out long remaining, out TimeSpan? reset)
    {
        remaining = 0;
        reset = null;
        if (!StructuredList.TryParse(field, out var items)) return false;
        var found = false;
        foreach (var item in items)
        {
            if (item.Value is not StructuredList.Bare.Text name || otherUnits?.Contains(name.Value) == true) continue;
            if (!item.Parameters.TryGetValue("r", out var rValue) || rValue is not StructuredList.Bare.Integer { Value: >= 0 } r) continue;
            TimeSpan? t = item.Parameters.TryGetValue("t", out var tValue) && tValue is StructuredList.Bare.Integer { Value: >= 0 } seconds
                ? Seconds(seconds.Value)
                : null;
            var tighter = !found
                || r.Value < remaining
                || r.Value == remaining && (t ?? TimeSpan.Zero) > (reset ?? TimeSpan.Zero);
            if (!tighter) continue;
            found = true;
            remaining = r.Value;
            reset = t;
        }
        return found;
    }

    private static bool TryReadCount(string text, out long count)
    {
        // Some servers send one value per policy ("10, 100"): the first is the one in force, as in the older draft.
        var comma = text.IndexOf(',');
        var first = (comma < 0 ? text.AsSpan() : text.AsSpan(0, comma)).Trim();
        return long.TryParse(first, NumberStyles.None, CultureInfo.InvariantCulture, out count);
    }

    /// <summary>A reset in delta-seconds (decimals allowed, as some vendors send), or an epoch timestamp (see the class).</summary>
    private static TimeSpan? ReadReset(string? text, DateTimeOffset now)
    {
        if (text is null) return null;
        var comma = text.IndexOf(',');
        var span = (comma < 0 ? text.AsSpan() : text.AsSpan(0, comma)).Trim();
        if (!decimal.TryParse(span, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var value)) return null;
        if (value >= EpochMillisecondsFrom)
        {
            if (value > DateTimeOffset.MaxValue.ToUnixTimeMilliseconds()) return null;
            return Until(DateTimeOffset.FromUnixTimeMilliseconds((long)value), now);
        }
        if (value >= EpochSecondsFrom)
        {
            if (value > DateTimeOffset.MaxValue.ToUnixTimeSeconds()) return null;
            return Until(DateTimeOffset.FromUnixTimeMilliseconds((long)(value * 1000)), now);
        }
        return TimeSpan.FromTicks((long)(value * TimeSpan.TicksPerSecond));
    }

    private static TimeSpan Until(DateTimeOffset at, DateTimeOffset now) => at <= now ? TimeSpan.Zero : at - now;

    private static TimeSpan Seconds(long seconds) => TimeSpan.FromSeconds(Math.Min(seconds, (long)TimeSpan.MaxValue.TotalSeconds - 1));
}

/// <summary>
/// What a response announced about its host's quota (see <see cref="RateLimitHeaders"/>): <paramref name="Remaining"/>
/// requests left, until <paramref name="Reset"/> from the response (when the quota is restored, if named); and the
/// host's tightest policy, <paramref name="Quota"/> requests per <paramref name="Window"/>, if one with a window was named.
/// </summary>
internal readonly record struct RateLimitStatus(long? Remaining, TimeSpan? Reset, long? Quota, TimeSpan? Window)
{
    /// <summary>The same, <paramref name="elapsed"/> later: the reset counts from when the answer arrived.</summary>
    public RateLimitStatus After(TimeSpan elapsed) =>
        Reset is { } reset && elapsed > TimeSpan.Zero ? this with { Reset = reset > elapsed ? reset - elapsed : TimeSpan.Zero } : this;
}
