using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Courier.Errors;

namespace Courier.Host.Batch;

/// <summary>What the results file says about an id (its LATEST result: <c>--retry-failed</c> appends, the last line wins).</summary>
internal enum PriorResult
{
    Succeeded,
    Failed,
    InDoubt,
}

/// <summary>
/// The results file: one JSON object per line, <c>{"id", "line", "status", "attempts", "durationMs", "body" | "bodyBase64"}</c>
/// for an answer, with <c>"error": {"type", "reason", "failure"?, "message"}</c> for a failure. Writing (pure functions to
/// bytes) and reading back what a previous run answered.
/// </summary>
internal static class BatchResults
{
    // A results file is data, not HTML: keep quotes and non-ASCII text readable.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>The reason an in-doubt line carries, also its group in the summary.</summary>
    public const string InDoubtReason = "in doubt";

    /// <summary>The key a result is filed under: its id, or its line number for a line without a usable id.</summary>
    public static string Key(string? id, long lineNumber) => id ?? "#line:" + lineNumber;

    public static byte[] Success(BatchLine line, int status, int attempts, TimeSpan duration, byte[] body, MediaTypeHeaderValue? contentType, bool base64) =>
        Write((line, status, attempts, duration, body, json: IsJson(contentType), base64), static (w, s) => // once per line: no closure
        {
            Common(w, s.line.Id, s.line.LineNumber, s.status, s.attempts, s.duration);
            WriteBody(w, s.body, s.json, s.base64);
        });

    public static byte[] Failure(BatchLine line, Exception error, int attempts, TimeSpan duration, bool base64) => Write(w =>
    {
        Common(w, line.Id, line.LineNumber, error is HttpStatusException s ? (int)s.StatusCode : null, attempts, duration);
        w.WriteStartObject("error");
        w.WriteString("type", error.GetType().Name);
        w.WriteString("reason", Reason(error));
        if (error is HttpCallException call) w.WriteString("failure", call.Failure.ToString());
        w.WriteString("message", error.Message);
        w.WriteEndObject();
        if (error is HttpStatusException { ResponseBody: { } body }) WriteBody(w, Encoding.UTF8.GetBytes(body), LooksLikeJson(body), base64);
    });

    public static byte[] Malformed(string? id, long lineNumber, string reason) => Write(w =>
    {
        if (id is null) w.WriteNull("id"); else w.WriteString("id", id);
        w.WriteNumber("line", lineNumber);
        w.WriteNull("status");
        w.WriteNumber("attempts", 0);
        Error(w, "MalformedLine", "malformed line", $"line {lineNumber}: {reason}");
    });

    public static byte[] InDoubt(BatchLine line) => Write(w =>
    {
        Common(w, line.Id, line.LineNumber, null, 0, TimeSpan.Zero);
        Error(w, "InDoubt", InDoubtReason,
            $"line {line.LineNumber}: {line.Call.Method.Method} was sent without an Idempotency-Key by a run that stopped before its answer was recorded; " +
            "it may or may not have taken effect, so it was not sent again (--resend-in-doubt sends it).");
    });

    /// <summary>A second line with an id already seen: filed under its line number (id null), so the id stays answered once.</summary>
    public static byte[] Duplicate(string id, long lineNumber, long firstLine) => Write(w =>
    {
        w.WriteNull("id");
        w.WriteNumber("line", lineNumber);
        w.WriteString("duplicateOf", id);
        w.WriteNull("status");
        w.WriteNumber("attempts", 0);
        Error(w, "DuplicateId", "duplicate id", $"line {lineNumber}: the id '{id}' already appears on line {firstLine}; this line was not sent.");
    });

    /// <summary>The group a failure is counted in by the summary: "status 503", "timeout", "circuit open"...</summary>
    public static string Reason(Exception error) => error switch
    {
        HttpStatusException s => $"status {(int)s.StatusCode}",
        HttpCallException call => call.Failure switch
        {
            HttpCallFailure.Timeout => "timeout",
            HttpCallFailure.Transport => "transport",
            HttpCallFailure.RetryBudgetExhausted => "retry budget exhausted",
            HttpCallFailure.QueueFull => "queue full",
            HttpCallFailure.InvalidRequest => "invalid request",
            HttpCallFailure.Authentication => "authentication",
            HttpCallFailure.RuntimeUnavailable => "runtime unavailable",
            HttpCallFailure.CircuitOpen => "circuit open",
            _ => call.Failure.ToString(),
        },
        _ => "error",
    };

    /// <summary>The reason of a result line (for the summary of a run), or null for a success.</summary>
    public static string? ReasonOf(ReadOnlySpan<byte> json)
    {
        var reader = new Utf8JsonReader(json);
        using var document = JsonDocument.ParseValue(ref reader);
        return document.RootElement.TryGetProperty("error", out var e) && e.TryGetProperty("reason", out var r) ? r.GetString() : null;
    }

    /// <summary>
    /// The latest result of each id (or line key) in the output. A batch killed mid-write may leave half a line at the
    /// end: it is cut off (a complete record that only lacks its newline gets one), so appended results start on a line of their own.
    /// </summary>
    public static async Task<Dictionary<string, PriorResult>> ReadAsync(string outputPath, CancellationToken cancellationToken)
    {
        var results = new Dictionary<string, PriorResult>(StringComparer.Ordinal);
        if (!File.Exists(outputPath)) return results;
        await RepairTailAsync(outputPath, cancellationToken);
        using var reader = new StreamReader(outputPath, Encoding.UTF8, false, new FileStreamOptions { Options = FileOptions.Asynchronous, BufferSize = 1 << 16 });
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            if (Parse(text) is not { } root) continue;
            var key = BatchLine.ReadId(root) is { } id ? id
                : root.TryGetProperty("line", out var line) && line.TryGetInt64(out var number) ? Key(null, number) : null;
            if (key is null) continue;
            results[key] = !root.TryGetProperty("error", out var error) ? PriorResult.Succeeded
                : error.TryGetProperty("type", out var type) && type.ValueEquals("InDoubt") ? PriorResult.InDoubt
                : PriorResult.Failed;
        }
        return results;
    }

    /// <summary>The id of an input line too malformed to parse, if it has one.</summary>
    public static string? TryReadId(string text) => Parse(text) is { } root ? BatchLine.ReadId(root) : null;

    private static JsonElement? Parse(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object ? document.RootElement.Clone() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static async Task RepairTailAsync(string path, CancellationToken cancellationToken)
    {
        await using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None, 1 << 16, useAsync: true);
        if (stream.Length == 0) return;
        var one = new byte[1];
        stream.Seek(-1, SeekOrigin.End);
        await stream.ReadExactlyAsync(one, cancellationToken);
        if (one[0] == '\n') return;

        // Walk back in chunks to the last newline: only the tail is read, however large the file.
        var chunk = new byte[64 * 1024];
        var end = stream.Length;
        var lastNewline = -1L;
        while (end > 0 && lastNewline < 0)
        {
            var start = Math.Max(0, end - chunk.Length);
            var count = (int)(end - start);
            stream.Seek(start, SeekOrigin.Begin);
            await stream.ReadExactlyAsync(chunk.AsMemory(0, count), cancellationToken);
            var index = Array.LastIndexOf(chunk, (byte)'\n', count - 1, count);
            if (index >= 0) lastNewline = start + index;
            end = start;
        }
        var tailStart = lastNewline + 1;
        var tail = new byte[stream.Length - tailStart];
        stream.Seek(tailStart, SeekOrigin.Begin);
        await stream.ReadExactlyAsync(tail, cancellationToken);
        if (Parse(Encoding.UTF8.GetString(tail)) is not null)
        {
            stream.Seek(0, SeekOrigin.End);
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken);
        }
        else
        {
            stream.SetLength(tailStart);
        }
    }

    private static void Common(Utf8JsonWriter w, string id, long lineNumber, int? status, int attempts, TimeSpan duration)
    {
        w.WriteString("id", id);
        w.WriteNumber("line", lineNumber);
        if (status is { } s) w.WriteNumber("status", s); else w.WriteNull("status");
        w.WriteNumber("attempts", attempts);
        w.WriteNumber("durationMs", Math.Round(duration.TotalMilliseconds, 1));
    }

    private static void Error(Utf8JsonWriter w, string type, string reason, string message)
    {
        w.WriteStartObject("error");
        w.WriteString("type", type);
        w.WriteString("reason", reason);
        w.WriteString("message", message);
        w.WriteEndObject();
    }

    /// <summary>A JSON body as a JSON value (when it parses), any other as a string, or base64 when asked.</summary>
    private static void WriteBody(Utf8JsonWriter w, byte[] body, bool json, bool base64)
    {
        if (base64)
        {
            w.WriteBase64String("bodyBase64", body);
            return;
        }
        var value = body.AsSpan();
        if (value.StartsWith("\uFEFF"u8)) value = value[3..]; // a byte order mark is not part of the value
        if (json && value.Length > 0 && System.Text.Unicode.Utf8.IsValid(value) && IsOneJsonValue(value))
        {
            w.WritePropertyName("body");
            if (value.IndexOfAny((byte)'\n', (byte)'\r') < 0)
            {
                // The common case, a compact body: copied as it is (already checked), no document built and written back.
                w.WriteRawValue(value.Trim(" \t"u8), skipInputValidation: true);
            }
            else
            {
                // Re-written, not copied: a pretty-printed body would otherwise put newlines into the one-line result.
                var reader = new Utf8JsonReader(value);
                using var document = JsonDocument.ParseValue(ref reader);
                document.RootElement.WriteTo(w);
            }
            return;
        }
        w.WriteString("body", Encoding.UTF8.GetString(body));
    }

    /// <summary>Whether <paramref name="utf8"/> is exactly one JSON value, by the rules <c>JsonDocument.Parse</c> applies (no comments,
    /// no trailing commas, depth 64, nothing but whitespace after it), read without building a document.</summary>
    private static bool IsOneJsonValue(ReadOnlySpan<byte> utf8)
    {
        var reader = new Utf8JsonReader(utf8);
        try
        {
            while (reader.Read())
            {
            }
            return true;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static bool IsJson(MediaTypeHeaderValue? contentType) =>
        contentType?.MediaType is { } media &&
        (media.Equals("application/json", StringComparison.OrdinalIgnoreCase) || media.EndsWith("+json", StringComparison.OrdinalIgnoreCase));

    private static bool LooksLikeJson(string body) => body.TrimStart() is ['{', ..] or ['[', ..];

    // One writer and buffer per thread, reused for every result line (Write is synchronous: no await between use and reuse).
    [ThreadStatic] private static System.Buffers.ArrayBufferWriter<byte>? t_buffer;
    [ThreadStatic] private static Utf8JsonWriter? t_writer;
    private const int KeptBufferBytes = 64 * 1024; // a larger one (a large body) is dropped after use, not kept per thread

    private static byte[] Write(Action<Utf8JsonWriter> body) => Write(body, static (w, write) => write(w));

    private static byte[] Write<TState>(TState state, Action<Utf8JsonWriter, TState> body)
    {
        var buffer = t_buffer ??= new System.Buffers.ArrayBufferWriter<byte>(1024);
        buffer.ResetWrittenCount();
        var writer = t_writer ??= new Utf8JsonWriter(buffer, WriterOptions);
        writer.Reset(buffer); // also after a failed line: no state carried over
        writer.WriteStartObject();
        body(writer, state);
        writer.WriteEndObject();
        writer.Flush();
        var bytes = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        if (buffer.Capacity > KeptBufferBytes)
        {
            t_buffer = null;
            t_writer = null;
        }
        return bytes;
    }
}
