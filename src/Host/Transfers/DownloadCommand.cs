using System.CommandLine;
using Courier.Host.Cli;
using Courier.Transfers;

namespace Courier.Host.Transfers;

/// <summary>
/// <c>download URL [DEST] [--sha256 HEX] [--show-sha256] [--overwrite] [-H "Name: value"]...</c>: into a file or an existing folder (named by
/// the server, never replacing a file there unless <c>--overwrite</c>), through a partial file the runtime keeps; running
/// the same command again resumes it.
/// </summary>
internal static class DownloadCommand
{
    public static Command Create(SharedOptions shared)
    {
        var url = new Argument<string>("URL") { Description = "Absolute http(s) URL of the file." };
        var destination = new Argument<string?>("DEST")
        {
            Description = "A file, or an existing folder (the name then comes from the server's Content-Disposition). Default: the current folder.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var sha256 = new Option<string?>("--sha256") { Description = "The SHA-256 (hex) the file must have; on a mismatch nothing is left under the final name." };
        var headers = CommandArguments.HeaderOption();
        var showSha256 = CommandArguments.ShowSha256Option();
        var overwrite = new Option<bool>("--overwrite")
        {
            Description = "Into a folder: replace a file that already has the server's name. Default: keep it and save as 'name (1).ext'.",
        };
        var command = new Command("download", "Download a file, resumable: through a partial file, resumed after dropped connections and by running the same command again.")
        {
            url, destination, sha256, showSha256, headers, overwrite,
        };
        command.SetAction((parse, ct) => TransferRun.RunAsync(parse, shared,
            CreateJob(parse.GetValue(url)!, parse.GetValue(destination), parse.GetValue(sha256), parse.GetValue(headers) ?? [], parse.GetValue(overwrite),
                parse.GetValue(showSha256)), ct,
            ProcessTuning.DownloadDefaults));
        return command;
    }

    /// <summary>Checks the arguments (a usage error names what is wrong) and describes the download.</summary>
    internal static TransferJob CreateJob(string urlText, string? destinationText, string? sha256, IEnumerable<string> headerTexts, bool overwrite = false,
        bool showSha256 = false)
    {
        var url = CommandArguments.ParseUrl(urlText);
        if (sha256 is not null && (sha256.Length != 64 || !sha256.All(char.IsAsciiHexDigit)))
            throw new UsageException($"--sha256 '{sha256}' is not 64 hex characters.");
        var headers = CommandArguments.ParseHeaders(headerTexts);

        var destination = destinationText ?? Directory.GetCurrentDirectory();
        var toFolder = Directory.Exists(destination);
        if (!toFolder)
        {
            if (Path.EndsInDirectorySeparator(destination)) throw new UsageException($"The destination folder '{destination}' does not exist.");
            var folder = Path.GetDirectoryName(Path.GetFullPath(destination))!;
            if (!Directory.Exists(folder)) throw new UsageException($"The destination folder '{folder}' does not exist.");
        }

        var request = (toFolder ? DownloadRequest.ToFolder(url, destination) : DownloadRequest.ToFile(url, destination)) with
        {
            ExpectedSha256 = sha256,
            ComputeSha256 = showSha256, // hashed when there is a digest to verify, or when asked: not for nothing
            Headers = headers,
            Overwrite = overwrite,
        };
        var name = toFolder ? Path.GetFileName(url.AbsolutePath) : Path.GetFileName(destination);
        return new TransferJob(request.Id, $"download {name}", (client, progress, ct) => client.DownloadAsync(request, progress, ct))
        {
            Cancelled = kept => kept is null
                ? "nothing had arrived yet."
                : $"'{kept}' is kept; run the same command again to resume.",
        };
    }
}
