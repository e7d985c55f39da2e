using System.Globalization;

namespace Courier.Requests.Hosts;

/// <summary>
/// A request rate such as <c>200/s</c>, <c>30/min</c>, <c>5/100ms</c> or <c>1000/h</c>: at most
/// <see cref="Permits"/> calls per <see cref="Per"/>, spread evenly (one permit every <see cref="Interval"/>).
/// </summary>
public sealed record RateLimit
{
    private RateLimit(int permits, TimeSpan per)
    {
        Permits = permits;
        Per = per;
    }

    /// <summary>Calls allowed per <see cref="Per"/>.</summary>
    public int Permits { get; }

    /// <summary>The period the permits are for.</summary>
    public TimeSpan Per { get; }

    /// <summary>The time between two permits: <see cref="Per"/> / <see cref="Permits"/>, at least one tick.</summary>
    public TimeSpan Interval => TimeSpan.FromTicks(Math.Max(1, Per.Ticks / Permits));

    /// <summary>Creates a rate of <paramref name="permits"/> per <paramref name="per"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Permits below 1, or a period that is not positive.</exception>
    public static RateLimit Of(int permits, TimeSpan per)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(permits, 1);
        if (per <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(per), per, "The period of a rate must be positive.");
        return new RateLimit(permits, per);
    }

    /// <summary>Parses <c>N/unit</c> or <c>N/Munit</c> (units: ms, s, m or min, h).</summary>
    /// <exception cref="FormatException">The text is not such a rate; the message quotes it and shows the form.</exception>
    public static RateLimit Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (TryParse(text, out var rate)) return rate;
        throw new FormatException($"'{text}' is not a rate: expected N/unit such as 200/s, 30/min, 5/100ms or 1000/h (N at least 1).");
    }

    /// <summary>Parses like <see cref="Parse"/>, without throwing.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out RateLimit? rate)
    {
        rate = null;
        if (string.IsNullOrWhiteSpace(text)) return false;
        var slash = text.IndexOf('/');
        if (slash <= 0) return false;
        if (!int.TryParse(text.AsSpan(0, slash).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var permits) || permits < 1) return false;

        var period = text.AsSpan(slash + 1).Trim();
        var digits = 0;
        while (digits < period.Length && char.IsAsciiDigit(period[digits])) digits++;
        var count = 1L;
        if (digits > 0 && !long.TryParse(period[..digits], NumberStyles.None, CultureInfo.InvariantCulture, out count)) return false;
        if (count < 1) return false;
        TimeSpan unit;
        switch (period[digits..].ToString().ToLowerInvariant())
        {
            case "ms": unit = TimeSpan.FromMilliseconds(1); break;
            case "s" or "sec": unit = TimeSpan.FromSeconds(1); break;
            case "m" or "min": unit = TimeSpan.FromMinutes(1); break;
            case "h": unit = TimeSpan.FromHours(1); break;
            default: return false;
        }
        if (count > TimeSpan.MaxValue.Ticks / unit.Ticks) return false;
        rate = new RateLimit(permits, TimeSpan.FromTicks(unit.Ticks * count));
        return true;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Permits.ToString(CultureInfo.InvariantCulture)}/{Per}";
}
