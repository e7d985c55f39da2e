using System.Net.Http.Headers;
using System.Text;

namespace Courier.Transfers;

/// <summary>
/// Turns a name proposed by a server (<c>Content-Disposition</c>, RFC 6266; or the URL's last segment) into a file name that
/// is safe inside the download folder: only the last path segment is kept (so <c>../../x</c>, <c>/etc/passwd</c> and
/// <c>C:\x</c> lose their directories), control and reserved characters are replaced, names made only of dots fall back,
/// Windows device names are prefixed, the length is bounded in UTF-8 bytes (file systems limit a name to 255 bytes, not
/// characters). The resolved path is checked to lie inside the folder.
/// </summary>
public static class SafeFileName
{
    /// <summary>
    /// Longest name kept, in UTF-8 bytes (241): the usual 255-byte limit of a file name (ext4, APFS; NTFS counts 255 UTF-16
    /// units, which this also keeps) less the longest suffix the runtime adds, <c>.part.json.tmp</c> (the download state
    /// while it is written). A longer name is cut at a character (rune) boundary and keeps its extension.
    /// </summary>
    public const int MaxBytes = 255 - 14; // ".part.json.tmp"

    /// <summary>How many names a download into a folder tries (<c>name</c>, <c>name (1)</c> ... <c>name (99)</c>) before it fails.</summary>
    internal const int MaxNumberedNames = 100;

    private const int MaxExtensionBytes = 20;

    private static readonly string[] DeviceNames = ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"];

    /// <summary>The name a <c>Content-Disposition</c> proposes: <c>filename*</c> (already decoded) first, then <c>filename</c>.</summary>
    public static string? FromContentDisposition(ContentDispositionHeaderValue? disposition)
    {
        if (disposition is null) return null;
        var name = disposition.FileNameStar;
        if (string.IsNullOrWhiteSpace(name)) name = disposition.FileName;
        if (string.IsNullOrWhiteSpace(name)) return null;
        name = name.Trim();
        if (name.Length >= 2 && name[0] == '"' && name[^1] == '"') name = name[1..^1];
        return name;
    }

    /// <summary>The last segment of the URL's path, decoded, or null.</summary>
    public static string? FromUrl(Uri url)
    {
        var path = url.IsAbsoluteUri ? url.AbsolutePath : url.OriginalString;
        var slash = path.LastIndexOf('/');
        var segment = slash >= 0 ? path[(slash + 1)..] : path;
        return segment.Length == 0 ? null : Uri.UnescapeDataString(segment);
    }

    /// <summary>A safe version of <paramref name="proposed"/>, or <paramref name="fallback"/> when nothing usable is left.</summary>
    public static string Sanitize(string? proposed, string fallback = "download")
    {
        if (string.IsNullOrEmpty(proposed)) return fallback;
        var cut = proposed.LastIndexOfAny(['/', '\\']);
        var name = cut >= 0 ? proposed[(cut + 1)..] : proposed;

        var builder = new StringBuilder(name.Length);
        foreach (var c in name)
        {
            builder.Append(char.IsControl(c) || c is '<' or '>' or ':' or '"' or '|' or '?' or '*'
                ? '_'
                : c);
        }
        // Windows drops trailing dots and spaces (so "x." would be "x"); leading spaces are confusing. Names of only dots
        // ("." and "..") mean directories.
        name = builder.ToString().Trim(' ').TrimEnd('.', ' ');
        if (name.Length == 0 || name.All(c => c == '.')) return fallback;

        var stem = name.Split('.')[0].TrimEnd(' ');
        if (IsDeviceName(stem)) name = "_" + name;

        return Encoding.UTF8.GetByteCount(name) > MaxBytes ? Fit(name, "") : name;
    }

    /// <summary>
    /// The <paramref name="n"/>-th alternative of <paramref name="name"/> as browsers number them: <c>report (1).pdf</c>,
    /// <c>.bashrc (1)</c>; still within <see cref="MaxBytes"/>.
    /// </summary>
    internal static string Numbered(string name, int n) => n == 0 ? name : Fit(name, $" ({n})");

    /// <summary><paramref name="name"/>'s stem, cut so that stem + <paramref name="suffix"/> + extension fits in <see cref="MaxBytes"/>.</summary>
    private static string Fit(string name, string suffix)
    {
        var extension = Path.GetExtension(name);
        // A dotfile (".bashrc") is all stem; an "extension" too long to be one is part of the stem.
        if (extension.Length == name.Length || Encoding.UTF8.GetByteCount(extension) > MaxExtensionBytes) extension = "";
        var stem = name[..^extension.Length];
        var room = MaxBytes - Encoding.UTF8.GetByteCount(extension) - Encoding.UTF8.GetByteCount(suffix);
        var cut = CutToBytes(stem, room);
        if (cut.Length < stem.Length) cut = cut.TrimEnd('.', ' ');
        return cut + suffix + extension;
    }

    /// <summary>The longest prefix of <paramref name="text"/> whose UTF-8 encoding has at most <paramref name="maxBytes"/> bytes, whole runes only.</summary>
    private static string CutToBytes(string text, int maxBytes)
    {
        var (bytes, chars) = (0, 0);
        foreach (var rune in text.EnumerateRunes())
        {
            if (bytes + rune.Utf8SequenceLength > maxBytes) break;
            bytes += rune.Utf8SequenceLength;
            chars += rune.Utf16SequenceLength;
        }
        return text[..chars];
    }

    /// <summary>
    /// The full path of <paramref name="name"/> (already sanitized) inside <paramref name="folder"/>; throws
    /// <see cref="TransferDestinationException"/> if it would lie anywhere else.
    /// </summary>
    public static string ResolveInside(string folder, string name)
    {
        var root = Path.GetFullPath(folder);
        if (!Path.EndsInDirectorySeparator(root)) root += Path.DirectorySeparatorChar;
        var full = Path.GetFullPath(Path.Combine(root, name));
        var comparison = OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if (!full.StartsWith(root, comparison) || full.Length == root.Length || full.IndexOfAny(['/', '\\'], root.Length) >= 0)
            throw new TransferDestinationException(TransferFailure.UnsafeFileName, folder,
                $"The file name '{Printable(name)}' proposed by the server would not lie inside the folder '{folder}'.");
        return full;
    }

    private static bool IsDeviceName(string stem)
    {
        foreach (var device in DeviceNames)
            if (string.Equals(stem, device, StringComparison.OrdinalIgnoreCase)) return true;
        return stem.Length == 4 && (stem.StartsWith("COM", StringComparison.OrdinalIgnoreCase) || stem.StartsWith("LPT", StringComparison.OrdinalIgnoreCase))
            && (char.IsAsciiDigit(stem[3]) || stem[3] is '¹' or '²' or '³');
    }

    /// <summary>The name with control characters shown as <c>?</c>, for error messages.</summary>
    internal static string Printable(string name) =>
        string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = char.IsControl(source[i]) ? '?' : source[i];
        });
}
