using System.Net.Http.Headers;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Transfers;

public sealed class SafeFileNameTests
{
    [Theory]
    [InlineData("report.pdf", "report.pdf")]
    [InlineData("../../x", "x")]
    [InlineData("/etc/passwd", "passwd")]
    [InlineData("C:\\x", "x")]
    [InlineData("C:x", "C_x")]
    [InlineData("..", "download")]
    [InlineData("...", "download")]
    [InlineData("", "download")]
    [InlineData("dir/", "download")]
    [InlineData("a\nb\u0007c", "a_b_c")]
    [InlineData("a\u0000b", "a_b")]
    [InlineData("what?*.txt", "what__.txt")]
    [InlineData("CON", "_CON")]
    [InlineData("nul.txt", "_nul.txt")]
    [InlineData("COM1.log", "_COM1.log")]
    [InlineData("console.txt", "console.txt")]
    [InlineData("trailing. . ", "trailing")]
    [InlineData("résumé 2024.pdf", "résumé 2024.pdf")]
    public void Sanitize_keeps_only_a_safe_last_segment(string proposed, string expected) =>
        Assert.Equal(expected, SafeFileName.Sanitize(proposed));

    [Fact]
    public void Long_names_are_cut_and_keep_their_extension()
    {
        var name = SafeFileName.Sanitize(new string('a', 500) + ".tar");
        Assert.Equal(SafeFileName.MaxBytes, name.Length);
        Assert.EndsWith(".tar", name);
    }

    [Fact]
    public void Names_are_limited_in_utf8_bytes_and_cut_at_a_character_boundary()
    {
        // Issue 9 item 12: 150 CJK characters are 450 bytes in UTF-8 (454 with ".pdf"): too long for a 255-byte file system.
        var cjk = string.Concat(Enumerable.Repeat("報告書", 50));
        var name = SafeFileName.Sanitize(cjk + ".pdf");
        Assert.InRange(System.Text.Encoding.UTF8.GetByteCount(name), SafeFileName.MaxBytes - 2, SafeFileName.MaxBytes);
        Assert.EndsWith(".pdf", name);
        Assert.StartsWith(name[..^4], cjk);

        // Characters outside the BMP are never split into half a surrogate pair.
        var emoji = SafeFileName.Sanitize(string.Concat(Enumerable.Repeat("😀", 100)) + ".txt");
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(emoji) <= SafeFileName.MaxBytes);
        Assert.Equal(emoji, System.Text.Encoding.UTF8.GetString(System.Text.Encoding.UTF8.GetBytes(emoji)));
        Assert.EndsWith("😀.txt", emoji);
    }

    [Theory]
    [InlineData("report.pdf", 1, "report (1).pdf")]
    [InlineData("report.pdf", 12, "report (12).pdf")]
    [InlineData(".bashrc", 1, ".bashrc (1)")]
    [InlineData("noext", 2, "noext (2)")]
    public void Numbered_names_go_before_the_extension_as_browsers_do(string name, int n, string expected) =>
        Assert.Equal(expected, SafeFileName.Numbered(name, n));

    [Fact]
    public void A_numbered_long_name_still_fits_in_the_byte_limit()
    {
        var name = SafeFileName.Sanitize(string.Concat(Enumerable.Repeat("報", 150)) + ".pdf");
        var numbered = SafeFileName.Numbered(name, 99);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(numbered) <= SafeFileName.MaxBytes);
        Assert.EndsWith(" (99).pdf", numbered);
    }

    [Fact]
    public void Content_disposition_prefers_filename_star()
    {
        var header = ContentDispositionHeaderValue.Parse("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC%20rates.txt");
        Assert.Equal("€ rates.txt", SafeFileName.FromContentDisposition(header));
        Assert.Equal("plain.txt", SafeFileName.FromContentDisposition(ContentDispositionHeaderValue.Parse("attachment; filename=\"plain.txt\"")));
        Assert.Null(SafeFileName.FromContentDisposition(ContentDispositionHeaderValue.Parse("inline")));
    }

    [Fact]
    public void The_url_gives_the_name_when_the_server_does_not()
    {
        Assert.Equal("data set.csv", SafeFileName.FromUrl(new Uri("https://example.test/exports/data%20set.csv?x=1")));
        Assert.Null(SafeFileName.FromUrl(new Uri("https://example.test/")));
    }

    [Theory]
    [InlineData("x")]
    [InlineData("..")]
    [InlineData("../x")]
    [InlineData("/etc/passwd")]
    public void Resolve_inside_accepts_plain_names_and_refuses_everything_else(string name)
    {
        var folder = Path.Combine(Path.GetTempPath(), "courier-safe-name");
        if (name == "x")
        {
            Assert.Equal(Path.Combine(Path.GetFullPath(folder), "x"), SafeFileName.ResolveInside(folder, name));
            return;
        }
        var error = Assert.Throws<TransferDestinationException>(() => SafeFileName.ResolveInside(folder, name));
        Assert.Equal(TransferFailure.UnsafeFileName, error.Failure);
    }

    [Fact]
    public void Digest_headers_follow_rfc_9530()
    {
        var digest = System.Security.Cryptography.SHA256.HashData("hello"u8);
        var header = TransferHeaders.FormatSha256(digest);
        Assert.StartsWith("sha-256=:", header);
        Assert.Equal(digest, TransferHeaders.ParseSha256("sha-512=:AAAA:, " + header));
        Assert.Null(TransferHeaders.ParseSha256("sha-256=AAAA"));
        Assert.Null(TransferHeaders.ParseSha256("md5=:AAAA:"));
        Assert.Throws<ArgumentException>(() => TransferHeaders.ParseHexSha256("abc"));
    }
}
