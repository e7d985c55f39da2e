using System.Globalization;

namespace Courier.Requests.Hosts;

/// <summary>
/// The part of RFC 8941 (Structured Field Values) that the rate-limit fields use: a List of Items, each a bare item with
/// parameters. Inner lists, which those fields never hold, make the field malformed. Strict: any syntax error fails the
/// whole field (RFC 8941 §4.2: a field that fails to parse is ignored), never an exception.
/// </summary>
internal static class StructuredList
{
    /// <summary>A bare item (RFC 8941 §3.3).</summary>
    internal abstract record Bare
    {
        /// <summary>An Integer.</summary>
        public sealed record Integer(long Value) : Bare;

        /// <summary>A Decimal.</summary>
        public sealed record Number(decimal Value) : Bare;

        /// <summary>A String or a Token (the fields treat a policy's name the same either way).</summary>
        public sealed record Text(string Value) : Bare;

        /// <summary>A Byte Sequence, kept as its base64 text.</summary>
        public sealed record Bytes(string Base64) : Bare;

        /// <summary>A Boolean.</summary>
        public sealed record Flag(bool Value) : Bare;
    }

    /// <summary>An Item: its value and its parameters (a later duplicate key wins, as RFC 8941 says).</summary>
    internal sealed record Item(Bare Value, IReadOnlyDictionary<string, Bare> Parameters);

    /// <summary>Parses <paramref name="field"/> as a List; false when it is not one.</summary>
    public static bool TryParse(string field, out List<Item> items)
    {
        items = [];
        var reader = new Reader(field);
        reader.SkipSpaces();
        if (reader.AtEnd) return true; // an empty list
        while (true)
        {
            if (!reader.TryItem(out var item)) return false;
            items.Add(item);
            reader.SkipOws();
            if (reader.AtEnd) return true;
            if (!reader.Take(',')) return false;
            reader.SkipOws();
            if (reader.AtEnd) return false; // a trailing comma
        }
    }

    private ref struct Reader(string text)
    {
        private readonly ReadOnlySpan<char> _text = text;
        private int _at;

        public readonly bool AtEnd => _at >= _text.Length;
        private readonly char Next => _text[_at];

        public void SkipSpaces()
        {
            while (!AtEnd && Next == ' ') _at++;
        }

        public void SkipOws()
        {
            while (!AtEnd && Next is ' ' or '\t') _at++;
        }

        public bool Take(char c)
        {
            if (AtEnd || Next != c) return false;
            _at++;
            return true;
        }

        public bool TryItem(out Item item)
        {
            item = null!;
            if (!TryBare(out var value)) return false;
            Dictionary<string, Bare>? parameters = null;
            while (Take(';'))
            {
                SkipSpaces();
                if (!TryKey(out var key)) return false;
                Bare parameter = new Bare.Flag(true);
                if (Take('=') && !TryBare(out parameter)) return false;
                (parameters ??= new Dictionary<string, Bare>(StringComparer.Ordinal))[key] = parameter;
            }
            item = new Item(value, (IReadOnlyDictionary<string, Bare>?)parameters ?? EmptyParameters);
            return true;
        }

        private bool TryKey(out string key)
        {
            key = "";
            var start = _at;
            if (AtEnd || !(char.IsAsciiLetterLower(Next) || Next == '*')) return false;
            _at++;
            while (!AtEnd && (char.IsAsciiLetterLower(Next) || char.IsAsciiDigit(Next) || Next is '_' or '-' or '.' or '*')) _at++;
            key = _text[start.._at].ToString();
            return true;
        }

        private bool TryBare(out Bare value)
        {
            value = null!;
            if (AtEnd) return false;
            var c = Next;
            if (c == '-' || char.IsAsciiDigit(c)) return TryNumber(out value);
            if (c == '"') return TryString(out value);
            if (char.IsAsciiLetter(c) || c == '*') return TryToken(out value);
            if (c == ':') return TryBytes(out value);
            if (c == '?') return TryBoolean(out value);
            return false;
        }

        private bool TryNumber(out Bare value)
        {
            value = null!;
            var start = _at;
            Take('-');
            var digitsStart = _at;
            while (!AtEnd && char.IsAsciiDigit(Next)) _at++;
            var integerDigits = _at - digitsStart;
            if (integerDigits == 0) return false;
            if (!Take('.'))
            {
                if (integerDigits > 15) return false;
                value = new Bare.Integer(long.Parse(_text[start.._at], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture));
                return true;
            }
            var fractionStart = _at;
            while (!AtEnd && char.IsAsciiDigit(Next)) _at++;
            var fractionDigits = _at - fractionStart;
            if (integerDigits > 12 || fractionDigits is 0 or > 3) return false;
            value = new Bare.Number(decimal.Parse(_text[start.._at], NumberStyles.AllowLeadingSign | NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture));
            return true;
        }

        private bool TryString(out Bare value)
        {
            value = null!;
            _at++; // the opening quote
            var text = new System.Text.StringBuilder();
            while (!AtEnd)
            {
                var c = Next;
                _at++;
                if (c == '"')
                {
                    value = new Bare.Text(text.ToString());
                    return true;
                }
                if (c == '\\')
                {
                    if (AtEnd || Next is not ('"' or '\\')) return false;
                    text.Append(Next);
                    _at++;
                    continue;
                }
                if (c < ' ' || c > '~') return false;
                text.Append(c);
            }
            return false; // no closing quote
        }

        private bool TryToken(out Bare value)
        {
            var start = _at;
            _at++;
            while (!AtEnd && (IsTokenChar(Next) || Next is ':' or '/')) _at++;
            value = new Bare.Text(_text[start.._at].ToString());
            return true;
        }

        private bool TryBytes(out Bare value)
        {
            value = null!;
            _at++; // the opening colon
            var start = _at;
            while (!AtEnd && (char.IsAsciiLetterOrDigit(Next) || Next is '+' or '/' or '=')) _at++;
            var end = _at;
            if (!Take(':')) return false;
            value = new Bare.Bytes(_text[start..end].ToString());
            return true;
        }

        private bool TryBoolean(out Bare value)
        {
            value = null!;
            _at++; // the question mark
            if (Take('1')) value = new Bare.Flag(true);
            else if (Take('0')) value = new Bare.Flag(false);
            else return false;
            return true;
        }

        private static bool IsTokenChar(char c) =>
            char.IsAsciiLetterOrDigit(c) || c is '!' or '#' or '$' or '%' or '&' or '\'' or '*' or '+' or '-' or '.' or '^' or '_' or '`' or '|' or '~';
    }

    private static readonly IReadOnlyDictionary<string, Bare> EmptyParameters = new Dictionary<string, Bare>();
}
