using System.CommandLine;
using System.Diagnostics;
using System.Text;
using System.Text.Json;
using Courier.Errors;
using Courier.Requests;
using Spectre.Console;

namespace Courier.Host.Cli;

/// <summary><c>request METHOD URL [-H "Name: value"]... [-d DATA | -d @file]</c>: one call; body to stdout, status and retries to stderr.</summary>
internal static class RequestCommand
{
    public static Command Create(SharedOptions shared)
    {
        var method = new Argument<string>("METHOD") { Description = "GET, POST, PUT, PATCH, DELETE, HEAD..." };
        var url = new Argument<string>("URL") { Description = "Absolute http(s) URL." };
        var headers = CommandArguments.HeaderOption();
        var data = new Option<string?>("--data", "-d") { Description = "Request body; @file reads it from a file. JSON bodies are sent as application/json, others as a form, unless -H sets Content-Type." };
        var trace = new Option<bool>("--trace") { Description = "Print the call's span tree (attempts, retries, token waits, the refresh) to stderr as a timeline." };
        var command = new Command("request", "Send one call through the runtime (retries, tokens, timeouts).") { method, url, headers, data, trace };
        command.SetAction((parse, ct) => RunAsync(parse, shared, parse.GetValue(method)!, parse.GetValue(url)!, parse.GetValue(headers) ?? [], parse.GetValue(data),
            parse.GetValue(trace), ct));
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, SharedOptions shared, string methodText, string urlText,
        string[] headerTexts, string? data, bool trace, CancellationToken cancellationToken)
    {
        using var timeline = trace ? new TraceTimeline() : null;
        var call = BuildCall(methodText, urlText, headerTexts, data);
        var interactive = shared.IsInteractive(parse);
        var stderr = Consoles.StandardError(interactive);
        var json = parse.GetValue(shared.Json);

        await using var runtime = await RuntimeHost.StartAsync(shared.ToConfiguration(parse), parse.GetValue(shared.Verbose), cancellationToken: cancellationToken);
        RuntimeEvents.Print(runtime.System, stderr, id => id == call.Id);
        var stopwatch = Stopwatch.StartNew();
        var result = await runtime.Client.ExecuteAsync(call, cancellationToken);
        stopwatch.Stop();
        if (timeline is not null) Console.Error.Write(await timeline.RenderAsync(call.Id, cancellationToken));

        switch (result)
        {
            case CallSucceeded ok:
                using (ok.Response)
                {
                    var body = await ok.Response.Content.ReadAsByteArrayAsync(cancellationToken);
                    if (json)
                    {
                        WriteJson(new { status = (int)ok.Response.StatusCode, attempts = ok.Attempts, durationMs = stopwatch.ElapsedMilliseconds, body = Encoding.UTF8.GetString(body) });
                    }
                    else
                    {
                        // Plain output, plain line: Spectre's first rendered line costs a one-shot command about 20 ms of CPU (bench/RESULTS.md).
                        if (interactive) stderr.MarkupLineInterpolated($"[green]{(int)ok.Response.StatusCode} {ok.Response.ReasonPhrase}[/] after {ok.Attempts} attempt(s), {stopwatch.ElapsedMilliseconds} ms");
                        else Console.Error.WriteLine($"{(int)ok.Response.StatusCode} {ok.Response.ReasonPhrase} after {ok.Attempts} attempt(s), {stopwatch.ElapsedMilliseconds} ms");
                        await WriteBodyAsync(ok.Response.Content.Headers.ContentType?.MediaType, body, cancellationToken);
                    }
                }
                return ExitCodes.Success;
            case CallFailed { Error: var error }:
                if (json)
                {
                    WriteJson(new { status = (error as HttpStatusException)?.StatusCode is { } s ? (int)s : (int?)null, attempts = result.Attempts,
                        durationMs = stopwatch.ElapsedMilliseconds, error = error.GetType().Name, message = error.Message, body = (error as HttpStatusException)?.ResponseBody });
                }
                else
                {
                    if (interactive) stderr.MarkupLineInterpolated($"[red]{error.Message}[/]");
                    else Console.Error.WriteLine(error.Message);
                    if (error is HttpStatusException { ResponseBody: { } body }) Console.Out.Write(body);
                }
                return error switch
                {
                    AuthenticationFailedException => ExitCodes.AuthenticationFailed,
                    HttpCallCanceledException => ExitCodes.Cancelled,
                    InvalidHttpCallException => ExitCodes.Usage,
                    _ => ExitCodes.SomeFailed,
                };
            default:
                return ExitCodes.SomeFailed;
        }
    }

    internal static HttpCall BuildCall(string methodText, string urlText, IEnumerable<string> headerTexts, string? data)
    {
        var url = CommandArguments.ParseUrl(urlText);
        var method = HttpMethod.Parse(methodText.ToUpperInvariant());

        var headers = CommandArguments.ParseHeaders(headerTexts);
        string? contentType = headers.LastOrDefault(h => string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase)).Value;
        headers.RemoveAll(h => string.Equals(h.Key, "Content-Type", StringComparison.OrdinalIgnoreCase));

        RequestBody? body = null;
        if (data is not null)
        {
            byte[] bytes;
            if (data.StartsWith('@'))
            {
                var path = data[1..];
                if (!File.Exists(path)) throw new UsageException($"-d @{path}: no such file.");
                bytes = File.ReadAllBytes(path);
            }
            else
            {
                bytes = Encoding.UTF8.GetBytes(data);
            }
            contentType ??= LooksLikeJson(bytes) ? "application/json" : "application/x-www-form-urlencoded";
            body = RequestBody.FromBytes(bytes, contentType);
        }
        return new HttpCall(method, url) { Headers = headers, Body = body };
    }

    private static bool LooksLikeJson(byte[] bytes)
    {
        try
        {
            using var _ = JsonDocument.Parse(bytes);
            return bytes.Length > 0 && (bytes[0] == '{' || bytes[0] == '[');
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>Text goes through <see cref="Console.Out"/>; anything else is copied byte for byte, as curl does.</summary>
    private static async Task WriteBodyAsync(string? mediaType, byte[] body, CancellationToken cancellationToken)
    {
        var isText = mediaType is null || mediaType.StartsWith("text/", StringComparison.OrdinalIgnoreCase) ||
                     mediaType.Contains("json", StringComparison.OrdinalIgnoreCase) || mediaType.Contains("xml", StringComparison.OrdinalIgnoreCase);
        if (isText)
        {
            await Console.Out.WriteAsync(Encoding.UTF8.GetString(body));
            await Console.Out.FlushAsync(cancellationToken);
            return;
        }
        await Console.Out.FlushAsync(cancellationToken);
        await using var stdout = Console.OpenStandardOutput();
        await stdout.WriteAsync(body, cancellationToken);
    }

    private static void WriteJson(object value) => Console.Out.WriteLine(JsonSerializer.Serialize(value, JsonSerializerOptions.Web));
}
