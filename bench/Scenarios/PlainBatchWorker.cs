using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Threading.Channels;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>batch-plain</c>: the baseline of the <c>batch</c> scenario, run by it as a child process. The same work as the CLI's
/// <c>batch</c> command without the runtime: the input read line by line and parsed as JSON, at most C calls in flight
/// (a semaphore), each through one plain <see cref="HttpClient"/> (the runtime's primary handler settings), and every
/// result written as a JSON line through a bounded channel to one writer. Prints
/// <c>{"lines","succeeded","failed","seconds"}</c> on stdout.
/// </summary>
internal sealed class PlainBatchWorker : IScenario
{
    public string Name => "batch-plain";

    public string Usage => "batch-plain INPUT.jsonl OUTPUT.jsonl [--concurrency 256]";

    public string Description => "(run by `batch`) the batch file through a plain HttpClient loop; prints a JSON summary.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (args.Length < 2) throw new UsageException("expected INPUT.jsonl OUTPUT.jsonl");
        var concurrency = new ArgReader(args[2..], "concurrency").Int("concurrency", 256);
        using var http = new HttpClient(HttpRuntime.CreatePrimaryHandler(new HttpRuntimeOptions()));
        var stopwatch = Stopwatch.StartNew();
        long lines = 0, succeeded = 0, failed = 0;

        var results = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(concurrency * 2) { SingleReader = true });
        await using var output = new FileStream(args[1], FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        var writer = Task.Run(async () =>
        {
            await foreach (var line in results.Reader.ReadAllAsync(CancellationToken.None))
            {
                await output.WriteAsync(line, CancellationToken.None);
                if (results.Reader.Count == 0) await output.FlushAsync(CancellationToken.None);
            }
            await output.FlushAsync(CancellationToken.None);
        }, CancellationToken.None);

        using var slots = new SemaphoreSlim(concurrency, concurrency);
        using (var input = new StreamReader(args[0], Encoding.UTF8, true, new FileStreamOptions { Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 1 << 16 }))
        {
            long number = 0;
            while (await input.ReadLineAsync(cancellationToken) is { } text)
            {
                number++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                lines++;
                var (id, request) = Parse(text);
                await slots.WaitAsync(cancellationToken);
                _ = RunOneAsync(id, number, request);
            }
        }
        for (var i = 0; i < concurrency; i++) await slots.WaitAsync(CancellationToken.None);
        results.Writer.Complete();
        await writer;

        Console.WriteLine(JsonSerializer.Serialize(new { lines, succeeded, failed, seconds = stopwatch.Elapsed.TotalSeconds }, JsonSerializerOptions.Web));
        return failed == 0 ? 0 : 1;

        async Task RunOneAsync(string id, long number, HttpRequestMessage request)
        {
            var started = Stopwatch.GetTimestamp();
            try
            {
                byte[] json;
                try
                {
                    using (request)
                    using (var response = await http.SendAsync(request, cancellationToken))
                    {
                        var body = await response.Content.ReadAsStringAsync(CancellationToken.None);
                        json = Result(id, number, (int)response.StatusCode, Stopwatch.GetElapsedTime(started), body, null);
                        if (response.IsSuccessStatusCode) Interlocked.Increment(ref succeeded);
                        else Interlocked.Increment(ref failed);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or IOException or TaskCanceledException)
                {
                    json = Result(id, number, null, Stopwatch.GetElapsedTime(started), null, ex.Message);
                    Interlocked.Increment(ref failed);
                }
                await results.Writer.WriteAsync(json, CancellationToken.None);
            }
            finally
            {
                // Only after the result is queued: once every slot is back, the writer may be completed.
                slots.Release();
            }
        }
    }

    /// <summary>The line's <c>id</c>, <c>method</c>, <c>url</c> and <c>body</c> (JSON, sent as application/json), as the CLI reads them.</summary>
    private static (string Id, HttpRequestMessage Request) Parse(string text)
    {
        using var document = JsonDocument.Parse(text);
        var root = document.RootElement;
        var id = root.GetProperty("id") is { ValueKind: JsonValueKind.String } s ? s.GetString()! : root.GetProperty("id").GetRawText();
        var method = root.TryGetProperty("method", out var m) ? HttpMethod.Parse(m.GetString()!.ToUpperInvariant()) : HttpMethod.Get;
        var request = new HttpRequestMessage(method, root.GetProperty("url").GetString());
        if (root.TryGetProperty("body", out var body) && body.ValueKind != JsonValueKind.Null)
        {
            request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body.GetRawText()))
            {
                Headers = { ContentType = new System.Net.Http.Headers.MediaTypeHeaderValue("application/json") },
            };
        }
        return (id, request);
    }

    private static byte[] Result(string id, long line, int? status, TimeSpan duration, string? body, string? error)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(256);
        using (var writer = new Utf8JsonWriter(buffer))
        {
            writer.WriteStartObject();
            writer.WriteString("id", id);
            writer.WriteNumber("line", line);
            if (status is { } s) writer.WriteNumber("status", s); else writer.WriteNull("status");
            writer.WriteNumber("durationMs", Math.Round(duration.TotalMilliseconds, 1));
            if (body is not null) writer.WriteString("body", body);
            if (error is not null) writer.WriteString("error", error);
            writer.WriteEndObject();
        }
        var bytes = new byte[buffer.WrittenCount + 1];
        buffer.WrittenSpan.CopyTo(bytes);
        bytes[^1] = (byte)'\n';
        return bytes;
    }
}
