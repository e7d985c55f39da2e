using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Files;

/// <summary>
/// Fault injection of the file endpoints, from request headers and counted per <c>X-Sandbox-Key</c> (so parallel tests
/// never collide): cut a body after N bytes for the first k requests, fail the k-th tus PATCH, lie about the tus offset,
/// slow a download down, ignore <c>If-Range</c>, leave out the digest.
/// </summary>
internal sealed class FileFaults
{
    /// <summary>Cut the body (a download's response, or an upload's request) after this many bytes.</summary>
    public const string CutAfter = "X-Fault-Cut-After";

    /// <summary>How many requests of the key get cut (default 1).</summary>
    public const string CutFirst = "X-Fault-Cut-First";

    /// <summary>The k-th PATCH of the key answers 500 without storing anything (comma-separated list allowed).</summary>
    public const string FailChunk = "X-Fault-Fail-Chunk";

    /// <summary>PATCH answers (and creation-with-upload answers) report an <c>Upload-Offset</c> this many bytes past the truth.</summary>
    public const string LieOffset = "X-Fault-Lie-Offset";

    /// <summary>A download pauses this many milliseconds after every 64 KiB.</summary>
    public const string DelayPerBlockMs = "X-Fault-Delay-Per-Block-Ms";

    /// <summary>
    /// Any value: a download serves the requested <c>Range</c> of the current file even when <c>If-Range</c> names another
    /// version (a server that breaks RFC 9110 §13.1.5; with a file replaced meanwhile, the 206 is of the changed file).
    /// </summary>
    public const string IgnoreIfRange = "X-Fault-Ignore-If-Range";

    /// <summary>Any value: a download is sent without its <c>Repr-Digest</c> (so only the validators protect the client).</summary>
    public const string NoDigest = "X-Fault-No-Digest";

    private readonly ConcurrentDictionary<string, long> _counts = new();

    /// <summary>Counts one request of <paramref name="kind"/> for the key and returns its 1-based number.</summary>
    public long Count(string key, string kind) => _counts.AddOrUpdate(key + "|" + kind, 1, static (_, n) => n + 1);

    /// <summary>Counts body bytes the download endpoint wrote for the key (what a resume saves shows up here).</summary>
    public void Served(string key, long bytes) => _counts.AddOrUpdate(key + "|served", bytes, (_, n) => n + bytes);

    public long ServedBytes(string key) => _counts.TryGetValue(key + "|served", out var n) ? n : 0;

    /// <summary>The number of bytes after which this request's body is cut, or null.</summary>
    public long? CutFor(HttpRequest request, string key)
    {
        if (Long(request, CutAfter) is not { } after) return null;
        var first = Long(request, CutFirst) ?? 1;
        return Count(key, "cut") <= first ? after : null;
    }

    public bool FailThisChunk(HttpRequest request, long patchNumber) =>
        request.Headers.TryGetValue(FailChunk, out var value) &&
        value.ToString().Split(',').Any(k => long.TryParse(k.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n == patchNumber);

    public static long? Long(HttpRequest request, string name) =>
        request.Headers.TryGetValue(name, out var value) && long.TryParse(value.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out var n) ? n : null;

    /// <summary>
    /// Flushes what was written, gives the client time to read it, then aborts the connection (as <c>X-Fault-Abort-First</c>
    /// does). Kestrel's abort drops output the socket has not sent yet, so a client that reads slowly may see the cut a
    /// little before byte N: tests assert "at most N".
    /// </summary>
    public static async Task CutAsync(HttpContext context)
    {
        try
        {
            await context.Response.Body.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromMilliseconds(150), context.RequestAborted).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        context.Abort();
    }
}
