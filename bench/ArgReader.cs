using System.Globalization;

namespace Courier.Bench;

/// <summary>Thrown for a bad command line: the program prints the message and the scenario's usage.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>
/// A deliberately tiny parser for <c>--name value</c> / <c>--name=value</c> options. Scenarios take a handful of
/// numeric options, so a dependency (System.CommandLine) would cost more reading than it saves.
/// </summary>
internal sealed class ArgReader
{
    private readonly Dictionary<string, string> _values = new(StringComparer.Ordinal);

    /// <param name="args">The arguments after the verb.</param>
    /// <param name="known">The option names the scenario accepts, without the leading dashes.</param>
    public ArgReader(IReadOnlyList<string> args, params string[] known)
    {
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (!arg.StartsWith("--", StringComparison.Ordinal)) throw new UsageException($"unexpected argument '{arg}'");
            var name = arg[2..];
            string? value = null;
            var eq = name.IndexOf('=');
            if (eq >= 0)
            {
                value = name[(eq + 1)..];
                name = name[..eq];
            }
            if (!known.Contains(name)) throw new UsageException($"unknown option '--{name}'");
            value ??= i + 1 < args.Count ? args[++i] : throw new UsageException($"option '--{name}' needs a value");
            _values[name] = value;
        }
    }

    public int Int(string name, int defaultValue, int min = 1) =>
        _values.TryGetValue(name, out var text) ? ParseInt(name, text, min) : defaultValue;

    public string String(string name, string defaultValue) => _values.GetValueOrDefault(name, defaultValue);

    /// <summary>A comma-separated list of integers, e.g. <c>1,16,64,256</c>.</summary>
    public int[] IntList(string name, int[] defaultValue, int min = 1) =>
        _values.TryGetValue(name, out var text)
            ? text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(v => ParseInt(name, v, min)).ToArray() is { Length: > 0 } list
                ? list
                : throw new UsageException($"option '--{name}' needs at least one value")
            : defaultValue;

    private static int ParseInt(string name, string text, int min) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min
            ? value
            : throw new UsageException($"option '--{name}': '{text}' is not an integer >= {min}");
}
