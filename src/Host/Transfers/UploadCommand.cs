using System.CommandLine;
using Courier.Host.Cli;
using Courier.Transfers;

namespace Courier.Host.Transfers;

/// <summary>
/// <c>upload FILE URL [--tus] [--field name=value]... [--field-name NAME] [--show-sha256] [-H "Name: value"]...</c>: one multipart/form-data
/// POST, or a resumable tus upload whose upload URL the runtime keeps beside FILE so that the same command resumes it.
/// </summary>
internal static class UploadCommand
{
    public static Command Create(SharedOptions shared)
    {
        var file = new Argument<string>("FILE") { Description = "The file to send (only ever read)." };
        var url = new Argument<string>("URL") { Description = "Where the form is POSTed; with --tus, the tus creation endpoint." };
        var tus = new Option<bool>("--tus") { Description = "Resumable tus 1.0 upload; the upload URL is kept in a state file beside FILE, so running the same command again resumes." };
        var fields = new Option<string[]>("--field", "-F") { Description = "A form field name=value, sent before the file (repeatable); with --tus, extra Upload-Metadata.", AllowMultipleArgumentsPerToken = false };
        var fieldName = new Option<string?>("--field-name") { Description = "The form field that carries the file (multipart; default file)." };
        var headers = CommandArguments.HeaderOption();
        var showSha256 = CommandArguments.ShowSha256Option();
        var command = new Command("upload", "Upload a file: multipart/form-data, or resumable with --tus.") { file, url, tus, fields, fieldName, showSha256, headers };
        command.SetAction((parse, ct) => TransferRun.RunAsync(parse, shared, CreateJob(parse.GetValue(file)!, parse.GetValue(url)!, parse.GetValue(tus),
            parse.GetValue(fields) ?? [], parse.GetValue(fieldName), parse.GetValue(headers) ?? [], parse.GetValue(showSha256)), ct));
        return command;
    }

    /// <summary>Checks the arguments (a usage error names what is wrong) and describes the upload.</summary>
    internal static TransferJob CreateJob(string source, string urlText, bool tus, IEnumerable<string> fieldTexts, string? fieldName,
        IEnumerable<string> headerTexts, bool showSha256 = false)
    {
        var url = CommandArguments.ParseUrl(urlText);
        if (Directory.Exists(source)) throw new UsageException($"'{source}' is a folder; upload sends one file.");
        if (!File.Exists(source)) throw new UsageException($"The file '{source}' does not exist.");
        if (tus && fieldName is not null) throw new UsageException("--field-name applies to multipart uploads, not to --tus.");
        if (fieldName is { Length: 0 }) throw new UsageException("--field-name must not be empty.");

        var request = (tus ? UploadRequest.Tus(url, source) : UploadRequest.Multipart(url, source)) with
        {
            Fields = CommandArguments.ParseFields(fieldTexts, "--field"),
            Headers = CommandArguments.ParseHeaders(headerTexts),
            FileField = fieldName ?? "file",
            ComputeSha256 = showSha256, // a pass over every byte: only when asked
        };
        return new TransferJob(request.Id, $"upload {Path.GetFileName(source)}", (client, progress, ct) => client.UploadAsync(request, progress, ct))
        {
            Cancelled = kept => !tus ? "a multipart upload cannot be resumed; running the same command again sends the whole file."
                : kept is null ? "the upload was not created yet; running the same command again starts it."
                : $"the upload state '{kept}' is kept; run the same command again to resume.",
        };
    }
}
