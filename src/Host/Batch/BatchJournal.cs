using System.Buffers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Courier.Host.Batch;

/// <summary>
/// The record of what a batch sent, beside its results (<c>RESULTS.jsonl.sent</c>): a header line with the batch
/// identity (the source of the idempotency keys, so that a resumed batch resends the same keys), then one JSON-string
/// id per line for each call sent WITHOUT an idempotency key (a non-idempotent line whose duplicate the server could
/// not recognise), and <c>-"id"</c> when such a call certainly never left the client. Each such entry is handed to
/// the operating system (one <c>write</c> of the whole line, no buffer in between) before the call is sent, so a killed
/// process (SIGKILL) never sent a call the journal lacks; it is not fsynced (a power loss may lose the tail). Ids sent
/// and neither answered nor withdrawn are "in doubt".
/// </summary>
/// <remarks>
/// The appends are synchronous: a line of a few bytes into the page cache costs one system call, where an asynchronous
/// write and flush cost a hop to a thread-pool thread and back for every line sent without a key. The batch loop is not an
/// actor; nothing of the runtime waits on it.
/// </remarks>
internal sealed class BatchJournal : IAsyncDisposable
{
    private readonly FileStream _stream; // unbuffered: each Write is one write(2) of a whole entry
    private readonly Lock _gate = new(); // calls end concurrently; one append at a time
    private readonly ArrayBufferWriter<byte> _entry = new(256);
    private readonly Utf8JsonWriter _writer;

    private BatchJournal(FileStream stream, string batchId, HashSet<string> inDoubt)
    {
        _stream = stream;
        _writer = new Utf8JsonWriter(_entry);
        BatchId = batchId;
        Sent = inDoubt;
    }

    /// <summary>The identity the keys derive from.</summary>
    public string BatchId { get; }

    /// <summary>The ids the previous runs sent without a key and did not withdraw.</summary>
    public IReadOnlySet<string> Sent { get; }

    public static string PathFor(string outputPath) => outputPath + ".sent";

    /// <summary>
    /// Opens the journal: a fresh batch starts a new one (a new random identity unless <paramref name="batchId"/> is
    /// given); a continued batch reads the old one and appends (its identity, unless <paramref name="batchId"/> says otherwise).
    /// </summary>
    public static async Task<BatchJournal> OpenAsync(string outputPath, bool continues, string? batchId, CancellationToken cancellationToken)
    {
        var path = PathFor(outputPath);
        var sent = new HashSet<string>(StringComparer.Ordinal);
        string? stored = null;
        if (continues && File.Exists(path))
        {
            using var reader = new StreamReader(path, Encoding.UTF8);
            var first = true;
            while (await reader.ReadLineAsync(cancellationToken) is { } text)
            {
                if (first) { stored = ReadHeader(text); first = false; continue; }
                var withdrawn = text.StartsWith('-');
                if (ReadId(withdrawn ? text[1..] : text) is not { } id) continue; // a torn last line: its call was never sent
                if (withdrawn) sent.Remove(id); else sent.Add(id);
            }
        }

        var identity = batchId ?? stored ?? NewIdentity();
        FileStream stream;
        if (stored is not null && stored == identity)
        {
            stream = new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.Read, bufferSize: 0);
            RepairTail(stream);
        }
        else
        {
            // A new identity: a new journal, but what the old one says was sent stays in doubt.
            stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, bufferSize: 0);
            var carried = new StringBuilder(JsonSerializer.Serialize(new { batch = identity })).Append('\n');
            foreach (var id in sent) carried.Append(JsonSerializer.Serialize(id)).Append('\n');
            await stream.WriteAsync(Encoding.UTF8.GetBytes(carried.ToString()), cancellationToken);
        }
        return new BatchJournal(stream, identity, sent);
    }

    /// <summary>Records that <paramref name="id"/> is about to be sent without a key; returns once the OS has the line.</summary>
    public void RecordSending(string id) => Append(id, withdrawn: false);

    /// <summary>Records that <paramref name="id"/> certainly never left the client, so a later run may send it.</summary>
    public void RecordNotSent(string id) => Append(id, withdrawn: true);

    private void Append(string id, bool withdrawn)
    {
        lock (_gate)
        {
            _entry.ResetWrittenCount();
            if (withdrawn) _entry.Write("-"u8);
            _writer.Reset(_entry);
            _writer.WriteStringValue(id); // a JSON string, as ReadId reads it back
            _writer.Flush();
            _entry.Write("\n"u8);
            _stream.Write(_entry.WrittenSpan);
        }
    }

    /// <summary>The stable key of line <paramref name="id"/>: base64url(SHA-256(identity + "\n" + id)).</summary>
    /// <remarks>Computed once per non-idempotent line, so without intermediate strings and arrays; the format must not change
    /// (a batch resumed by a later build sends the keys its first run sent).</remarks>
    public string IdempotencyKey(string id)
    {
        var max = Encoding.UTF8.GetMaxByteCount(BatchId.Length + 1 + id.Length);
        Span<byte> input = max <= 1024 ? stackalloc byte[max] : new byte[max];
        var length = Encoding.UTF8.GetBytes(BatchId, input);
        input[length++] = (byte)'\n';
        length += Encoding.UTF8.GetBytes(id, input[length..]);
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(input[..length], hash);
        return System.Buffers.Text.Base64Url.EncodeToString(hash); // unpadded, '-' and '_'
    }

    public async ValueTask DisposeAsync()
    {
        await _writer.DisposeAsync();
        await _stream.DisposeAsync();
    }

    private static string NewIdentity() => Convert.ToHexString(RandomNumberGenerator.GetBytes(16)).ToLowerInvariant();

    private static string? ReadHeader(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.Object && document.RootElement.TryGetProperty("batch", out var b) &&
                   b.ValueKind == JsonValueKind.String ? b.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static string? ReadId(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.ValueKind == JsonValueKind.String ? document.RootElement.GetString() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void RepairTail(FileStream stream)
    {
        // A kill mid-append may leave a line without its newline: end it, so the next entry starts on its own line
        // (the torn text itself does not parse and is ignored on reading).
        if (stream.Length == 0) return;
        using var read = new FileStream(stream.Name, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        read.Seek(-1, SeekOrigin.End);
        if (read.ReadByte() != '\n') stream.Write("\n"u8);
    }
}
