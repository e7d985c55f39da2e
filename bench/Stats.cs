namespace Courier.Bench;

/// <summary>Small statistics over the rounds of a scenario.</summary>
internal static class Stats
{
    /// <summary>The median (the mean of the two middle values for an even count).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return double.NaN;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    /// <summary>(max - min) / median: how far apart the rounds were, relative to the figure reported.</summary>
    public static double Spread(IReadOnlyCollection<double> values) => (values.Max() - values.Min()) / Median(values);
}
