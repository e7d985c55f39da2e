using System.Security.Cryptography;
using Courier.Host.Transfers;
using Courier.Transfers;
using Spectre.Console;

namespace Courier.Host.Demo;

/// <summary>What the demo's transfers did, for the summary.</summary>
internal sealed record DemoTransferResult(long BytesUp, TimeSpan Up, long BytesDown, TimeSpan Down, string Sha256, bool Verified);

/// <summary>
/// The demo's second part: a generated file goes up to the Sandbox with tus (the server fails one chunk with 500) and
/// comes back down into a folder (the server cuts the connection part-way); each resumes from where it stopped, and the
/// SHA-256 of the file on disk must equal the source's. Everything lives in a temporary folder, deleted at the end.
/// </summary>
internal static class DemoTransfers
{
    private const int MiB = 1024 * 1024;
    private const int FileSize = 32 * MiB;
    private const int FailedChunk = 12;          // the 12th tus PATCH answers 500: the upload resumes at 11 MiB
    private const int CutAfter = 20 * MiB;       // the first download response is cut after 20 MiB: it resumes with a Range

    public static async Task<DemoTransferResult> RunAsync(IAnsiConsole console, ProgressMode mode, IHttpRuntimeClient client, Uri sandbox,
        CancellationToken cancellationToken)
    {
        var folder = Directory.CreateTempSubdirectory("courier-demo-");
        try
        {
            var source = Path.Combine(folder.FullName, "courier-demo.bin");
            var sha = await WriteRandomFileAsync(source, FileSize, cancellationToken);
            console.MarkupLineInterpolated($"[bold]Transfers[/]: {TransferDisplay.FormatBytes(FileSize)} of random bytes up with tus (the server fails chunk {FailedChunk} with 500), then down into a folder (the server cuts the connection after {TransferDisplay.FormatBytes(CutAfter)}); both through the access token.");

            var up = await TransferDisplay.RunAsync(console, mode, "upload (tus)", progress => client.UploadAsync(
                UploadRequest.Tus(new Uri(sandbox, "/protected-files/demo/tus"), source) with { Headers = [new("X-Fault-Fail-Chunk", FailedChunk.ToString())], ComputeSha256 = true },
                progress, cancellationToken));
            console.MarkupLineInterpolated($"[green]uploaded[/] {TransferDisplay.FormatBytes(up.Bytes)} in {up.Duration.TotalSeconds:0.00} s to {up.Location}");

            var downloads = folder.CreateSubdirectory("downloads");
            var down = await TransferDisplay.RunAsync(console, mode, "download", progress => client.DownloadAsync(
                DownloadRequest.ToFolder(new Uri(sandbox, "/protected-files/demo/courier-demo.bin"), downloads.FullName) with
                {
                    Headers = [new("X-Fault-Cut-After", CutAfter.ToString())],
                    ExpectedSha256 = sha,
                }, progress, cancellationToken));
            console.MarkupLineInterpolated($"[green]downloaded[/] {TransferDisplay.FormatBytes(down.Bytes)} in {down.Duration.TotalSeconds:0.00} s to {down.Path}");

            // The runtime checked the digest while streaming; read the file back from disk to show it independently.
            await using var written = File.OpenRead(down.Path);
            var onDisk = Convert.ToHexStringLower(await SHA256.HashDataAsync(written, cancellationToken));
            var verified = onDisk == sha && up.Sha256 == sha;
            if (verified) console.MarkupLineInterpolated($"[green]sha-256 match[/]: the downloaded file and the source are both {sha}");
            else console.MarkupLineInterpolated($"[red]sha-256 mismatch[/]: source {sha}, uploaded {up.Sha256}, downloaded {onDisk}");
            return new DemoTransferResult(up.Bytes, up.Duration, down.Bytes, down.Duration, sha, verified);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    /// <summary>Writes <paramref name="length"/> random bytes to <paramref name="path"/>; returns their SHA-256 (hex).</summary>
    private static async Task<string> WriteRandomFileAsync(string path, int length, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var block = new byte[MiB];
        await using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 0, useAsync: true);
        for (var left = length; left > 0; left -= block.Length)
        {
            RandomNumberGenerator.Fill(block);
            hash.AppendData(block);
            await file.WriteAsync(block, cancellationToken);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }
}
