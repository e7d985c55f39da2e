using System.Diagnostics;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Host.Batch;

/// <summary>Progress of a running batch.</summary>
internal sealed record BatchProgress(long Read, long Written, long Succeeded, long Failed, long Skipped);

/// <summary>The totals of a batch.</summary>
internal sealed record BatchSummary(long Lines, long Succeeded, long Failed, long Malformed, long Skipped, long AuthenticationFailures,
    bool Cancelled, TimeSpan Elapsed);

/// <summary>
/// The high-concurrency batch caller. Input is read line by line and at most <c>concurrency</c> calls are in flight, so
/// memory does not grow with the file; each result is written as it arrives (one JSON line, flushed whenever the writer
/// catches up). <c>resume</c> skips ids already in the output. Cancelled calls write nothing, so a resumed batch answers
/// each id exactly once.
/// </summary>
internal static class BatchRunner
{
    // A results file is data, not HTML: keep quotes and non-ASCII text readable.
    private static readonly JsonWriterOptions WriterOptions = new() { Indented = false, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static async Task<BatchSummary> RunAsync(IHttpRuntimeClient client, string inputPath, string outputPath, int concurrency,
        bool resume, Uri? baseAddress, Action<BatchProgress>? progress, CancellationToken cancellationToken)
    {
        if (!File.Exists(inputPath)) throw new Cli.UsageException($"The input file '{inputPath}' does not exist.");
        if (concurrency < 1) throw new Cli.UsageException("--concurrency must be at least 1.");
        var outputFolder = Path.GetDirectoryName(Path.GetFullPath(outputPath));
        if (outputFolder is not null && !Directory.Exists(outputFolder)) throw new Cli.UsageException($"The output folder '{outputFolder}' does not exist.");

        var answered = resume ? await ReadAnsweredAsync(outputPath, cancellationToken) : [];
        var stopwatch = Stopwatch.StartNew();
        long read = 0, written = 0, succeeded = 0, failed = 0, malformed = 0, skipped = 0, authFailures = 0;

        var results = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(concurrency * 2) { SingleReader = true });
        await using var output = new FileStream(outputPath, resume ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        var writer = Task.Run(async () =>
        {
            try
            {
                await foreach (var line in results.Reader.ReadAllAsync(CancellationToken.None))
                {
                    await output.WriteAsync(line, CancellationToken.None);
                    Interlocked.Increment(ref written);
                    if (results.Reader.Count == 0) await output.FlushAsync(CancellationToken.None); // a killed batch leaves whole lines
                }
                await output.FlushAsync(CancellationToken.None);
            }
            catch (Exception ex)
            {
                // Disk full, quota...: close the channel with the error, so that calls still producing results stop
                // waiting for room in it (they get ChannelClosedException) instead of hanging the batch.
                results.Writer.TryComplete(ex);
                throw;
            }
        }, CancellationToken.None);

        void Report() => progress?.Invoke(new BatchProgress(Interlocked.Read(ref read), Interlocked.Read(ref written),
            Interlocked.Read(ref succeeded), Interlocked.Read(ref failed), Interlocked.Read(ref skipped)));

        using var slots = new SemaphoreSlim(concurrency, concurrency);
        var cancelled = false;
        try
        {
            using var input = new StreamReader(inputPath, Encoding.UTF8, detectEncodingFromByteOrderMarks: true,
                new FileStreamOptions { Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 1 << 16 });
            long lineNumber = 0;
            while (await input.ReadLineAsync(cancellationToken) is { } text)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                Interlocked.Increment(ref read);
                BatchLine line;
                try
                {
                    line = BatchLine.Parse(text, lineNumber, baseAddress);
                }
                catch (FormatException ex)
                {
                    var id = TryReadId(text);
                    if (answered.Contains(id ?? LineKey(lineNumber))) { Interlocked.Increment(ref skipped); continue; }
                    Interlocked.Increment(ref malformed);
                    Interlocked.Increment(ref failed);
                    await results.Writer.WriteAsync(Malformed(id, lineNumber, ex.Message), CancellationToken.None);
                    continue;
                }
                if (answered.Contains(line.Id))
                {
                    Interlocked.Increment(ref skipped);
                    continue;
                }

                await slots.WaitAsync(cancellationToken);
                _ = RunOneAsync(line);
                if ((read & 255) == 0) Report();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
        }
        finally
        {
            // Drain whatever ended the reading (the end, Ctrl+C, or an error reading the input): every slot back means
            // every call has finished and queued its result, before the output is closed.
            for (var i = 0; i < concurrency; i++) await slots.WaitAsync(CancellationToken.None);
            results.Writer.TryComplete();
        }
        await writer; // rethrows a write failure
        Report();
        return new BatchSummary(read, succeeded, failed, malformed, skipped, authFailures, cancelled || cancellationToken.IsCancellationRequested, stopwatch.Elapsed);

        async Task RunOneAsync(BatchLine line)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                var result = await client.ExecuteAsync(line.Call, cancellationToken);
                var duration = Stopwatch.GetElapsedTime(started);
                byte[] json;
                switch (result)
                {
                    case CallSucceeded ok:
                        using (ok.Response)
                        {
                            var body = await ok.Response.Content.ReadAsStringAsync(CancellationToken.None);
                            json = Success(line, (int)ok.Response.StatusCode, ok.Attempts, duration, body);
                        }
                        Interlocked.Increment(ref succeeded);
                        break;
                    case CallFailed { Error: HttpCallCanceledException }:
                        return; // not answered: a resumed batch sends it again
                    case CallFailed f:
                        if (f.Error is AuthenticationFailedException) Interlocked.Increment(ref authFailures);
                        json = Failure(line, f.Error, f.Attempts, duration);
                        Interlocked.Increment(ref failed);
                        break;
                    default:
                        return;
                }
                await results.Writer.WriteAsync(json, CancellationToken.None);
            }
            catch (OperationCanceledException)
            {
                // Cancelled before it was sent: not answered, a resumed batch sends it.
            }
            catch (ChannelClosedException)
            {
                // The writer failed: the batch ends with its error, this result has nowhere to go.
            }
            catch (Exception ex)
            {
                Interlocked.Increment(ref failed);
                await results.Writer.WriteAsync(Failure(line, ex, 0, TimeSpan.Zero), CancellationToken.None);
            }
            finally
            {
                slots.Release();
            }
        }
    }

    /// <summary>
    /// The ids the output file already answers. A batch killed mid-write may leave half a line at the end: it is cut off
    /// (a complete record that only lacks its newline gets one), so appended results start on a line of their own.
    /// </summary>
    private static async Task<HashSet<string>> ReadAnsweredAsync(string outputPath, CancellationToken cancellationToken)
    {
        var answered = new HashSet<string>(StringComparer.Ordinal);
        if (!File.Exists(outputPath)) return answered;
        await RepairTailAsync(outputPath, cancellationToken);
        using var reader = new StreamReader(outputPath, Encoding.UTF8, false, new FileStreamOptions { Options = FileOptions.Asynchronous, BufferSize = 1 << 16 });
        while (await reader.ReadLineAsync(cancellationToken) is { } text)
        {
            if (TryReadId(text) is { } id) answered.Add(id);
            else if (TryReadLine(text) is { } line) answered.Add(LineKey(line)); // a malformed line without an id
        }
        return answered;
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
        if (TryReadId(Encoding.UTF8.GetString(tail)) is not null)
        {
            stream.Seek(0, SeekOrigin.End);
            await stream.WriteAsync("\n"u8.ToArray(), cancellationToken);
        }
        else
        {
            stream.SetLength(tailStart);
        }
    }

    private static string LineKey(long lineNumber) => "#line:" + lineNumber;

    private static long? TryReadLine(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("line", out var line) &&
                   line.TryGetInt64(out var number) ? number : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? TryReadId(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object ? BatchLine.ReadId(document.RootElement) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static byte[] Success(BatchLine line, int status, int attempts, TimeSpan duration, string body) => Write(w =>
    {
        w.WriteString("id", line.Id);
        w.WriteNumber("line", line.LineNumber);
        w.WriteNumber("status", status);
        w.WriteNumber("attempts", attempts);
        w.WriteNumber("durationMs", Math.Round(duration.TotalMilliseconds, 1));
        w.WriteString("body", body);
    });

    private static byte[] Failure(BatchLine line, Exception error, int attempts, TimeSpan duration) => Write(w =>
    {
        w.WriteString("id", line.Id);
        w.WriteNumber("line", line.LineNumber);
        if (error is HttpStatusException status) w.WriteNumber("status", (int)status.StatusCode);
        else w.WriteNull("status");
        w.WriteNumber("attempts", attempts);
        w.WriteNumber("durationMs", Math.Round(duration.TotalMilliseconds, 1));
        w.WriteStartObject("error");
        w.WriteString("type", error.GetType().Name);
        if (error is HttpCallException call) w.WriteString("failure", call.Failure.ToString());
        w.WriteString("message", error.Message);
        w.WriteEndObject();
        if (error is HttpStatusException { ResponseBody: { } body }) w.WriteString("body", body);
    });

    private static byte[] Malformed(string? id, long lineNumber, string reason) => Write(w =>
    {
        if (id is null) w.WriteNull("id"); else w.WriteString("id", id);
        w.WriteNumber("line", lineNumber);
        w.WriteNull("status");
        w.WriteNumber("attempts", 0);
        w.WriteStartObject("error");
        w.WriteString("type", "MalformedLine");
        w.WriteString("message", $"line {lineNumber}: {reason}");
        w.WriteEndObject();
    });

    private static byte[] Write(Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer, WriterOptions))
        {
            writer.WriteStartObject();
            body(writer);
            writer.WriteEndObject();
        }
        var bytes = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }
}
