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
        Assert.Equal(SafeFileName.MaxLength, name.Length);
        Assert.EndsWith(".tar", name);
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
