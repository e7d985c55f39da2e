using System.Text;

namespace Courier.Bench;

/// <summary>
/// A GitHub-flavoured Markdown table, padded so it also reads well as plain text in a terminal or log file.
/// Cells are preformatted strings: each scenario decides its own number formats.
/// </summary>
internal sealed class MarkdownTable
{
    private readonly (string Title, bool Right)[] _columns;
    private readonly List<string[]> _rows = [];

    /// <param name="columns">Titles; a title starting with '&gt;' is right-aligned (the '&gt;' is dropped).</param>
    public MarkdownTable(params string[] columns) =>
        _columns = columns.Select(c => c.StartsWith('>') ? (c[1..], true) : (c, false)).ToArray();

    public void AddRow(params string[] cells)
    {
        if (cells.Length != _columns.Length) throw new ArgumentException($"expected {_columns.Length} cells, got {cells.Length}", nameof(cells));
        _rows.Add(cells);
    }

    public override string ToString()
    {
        var widths = new int[_columns.Length];
        for (var c = 0; c < widths.Length; c++)
            widths[c] = Math.Max(3, _rows.Select(r => r[c].Length).Append(_columns[c].Title.Length).Max());

        var text = new StringBuilder();
        Line(_columns.Select(c => c.Title).ToArray());
        text.Append('|');
        for (var c = 0; c < widths.Length; c++)
            text.Append(' ').Append(new string('-', widths[c] - 1)).Append(_columns[c].Right ? ':' : '-').Append(" |");
        text.AppendLine();
        foreach (var row in _rows) Line(row);
        return text.ToString();

        void Line(string[] cells)
        {
            text.Append('|');
            for (var c = 0; c < cells.Length; c++)
            {
                var cell = _columns[c].Right ? cells[c].PadLeft(widths[c]) : cells[c].PadRight(widths[c]);
                text.Append(' ').Append(cell).Append(" |");
            }
            text.AppendLine();
        }
    }
}
