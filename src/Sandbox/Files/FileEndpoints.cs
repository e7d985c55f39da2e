using System.Buffers;
using System.Globalization;
using Courier.Sandbox.Auth;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Files;

/// <summary>
/// The file endpoints, under <c>/files/{key}/...</c> (open) and <c>/protected-files/{key}/...</c> (access token required):
/// raw PUT to place a file, downloads with ETag / Last-Modified / Range / If-Range / Content-Disposition / Repr-Digest,
/// a multipart upload that reports the SHA-256 it received, and tus 1.0 core with creation. See README.md.
/// </summary>
internal sealed class FileEndpoints
{
    /// <summary>The largest upload accepted unless a request sets <see cref="UploadLimitHeader"/>.</summary>
    public const long DefaultUploadLimit = 4L * 1024 * 1024 * 1024;

    /// <summary>Request header that lowers the upload-size limit for that request (multipart) or upload (tus creation).</summary>
    public const string UploadLimitHeader = "X-Upload-Limit";

    private const int BlockSize = 64 * 1024;

    private readonly SandboxAuthority _authority;
    private readonly FileStore _store;
    private readonly FileFaults _faults = new();
    private readonly TusEndpoints _tus;
    private readonly MultipartEndpoint _multipart;

    private FileEndpoints(SandboxAuthority authority, FileStore store)
    {
        _authority = authority;
        _store = store;
        _tus = new TusEndpoints(store, _faults);
        _multipart = new MultipartEndpoint(store, _faults);
    }

    /// <summary>Maps the endpoints; the store's folder is deleted when the application stops.</summary>
    public static void Map(WebApplication app, SandboxAuthority authority)
    {
        var store = new FileStore();
        app.Services.GetRequiredService<IHostApplicationLifetime>().ApplicationStopped.Register(store.Dispose);
        var endpoints = new FileEndpoints(authority, store);
        foreach (var (prefix, secure) in new[] { ("/files", false), ("/protected-files", true) })
        {
            app.MapPost(prefix + "/{key}/multipart", endpoints.Guard(secure, endpoints._multipart.UploadAsync));
            app.MapMethods(prefix + "/{key}/tus", ["OPTIONS"], endpoints.Guard(secure, TusEndpoints.OptionsAsync));
            app.MapPost(prefix + "/{key}/tus", endpoints.Guard(secure, endpoints._tus.CreateAsync));
            app.MapMethods(prefix + "/{key}/tus/{id}", ["HEAD"], endpoints.Guard(secure, endpoints._tus.HeadAsync));
            app.MapMethods(prefix + "/{key}/tus/{id}", ["PATCH"], endpoints.Guard(secure, endpoints._tus.PatchAsync));
            app.MapPut(prefix + "/{key}/{name}", endpoints.Guard(secure, endpoints.PutAsync));
            app.MapGet(prefix + "/{key}/{name}/info", endpoints.Guard(secure, endpoints.InfoAsync));
            app.MapMethods(prefix + "/{key}/{name}", ["GET", "HEAD"], endpoints.Guard(secure, endpoints.DownloadAsync));
        }
    }

    private RequestDelegate Guard(bool secure, RequestDelegate handler) => !secure ? handler : context =>
    {
        var status = _authority.Authenticate(BearerToken.Read(context.Request), out _);
        return status == AccessTokenStatus.Valid ? handler(context) : BearerToken.RejectAsync(context, status, _authority.Options.ExpiredStatusCode);
    };

    public static string Key(HttpContext context) => (string)context.Request.RouteValues["key"]!;

    /// <summary>A route file name, refused if it could name anything but a file of the store.</summary>
    public static string? Name(HttpContext context) =>
        context.Request.RouteValues["name"] is string name && name.Length > 0 && name == Path.GetFileName(name) && name != ".." && name != "." ? name : null;

    public static void AllowLargeBody(HttpContext context)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit) limit.MaxRequestBodySize = null;
    }

    public static long UploadLimit(HttpRequest request) => FileFaults.Long(request, UploadLimitHeader) ?? DefaultUploadLimit;

    /// <summary><c>PUT /files/{key}/{name}</c>: stores the raw body (replacing the file, so it gets a new ETag). 201 + info.</summary>
    private async Task PutAsync(HttpContext context)
    {
        if (Name(context) is not { } name)
        {
            await JsonResponse.WriteErrorAsync(context, 400, "invalid_name").ConfigureAwait(false);
            return;
        }
        AllowLargeBody(context);
        var temp = _store.NewTempPath();
        await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            await context.Request.Body.CopyToAsync(file, context.RequestAborted).ConfigureAwait(false);
        var stored = await _store.CommitAsync(Key(context), name, temp, context.RequestAborted).ConfigureAwait(false);
        await WriteInfoAsync(context, 201, stored).ConfigureAwait(false);
    }

    /// <summary>
    /// <c>GET /files/{key}/{name}/info</c>: <c>{"name","length","sha256","etag","servedBytes"}</c>; <c>servedBytes</c> counts
    /// the body bytes every download of the key was sent.
    /// </summary>
    private Task InfoAsync(HttpContext context) =>
        Name(context) is { } name && _store.Get(Key(context), name) is { } file
            ? WriteInfoAsync(context, 200, file, _faults.ServedBytes(Key(context)))
            : JsonResponse.WriteErrorAsync(context, 404, "not_found");

    private static Task WriteInfoAsync(HttpContext context, int status, StoredFile file, long served = 0) =>
        JsonResponse.WriteAsync(context, status, (file, served), static (writer, s) =>
        {
            writer.WriteStartObject();
            writer.WriteString("name"u8, s.file.Name);
            writer.WriteNumber("length"u8, s.file.Length);
            writer.WriteString("sha256"u8, s.file.Sha256Hex);
            writer.WriteString("etag"u8, s.file.ETag);
            writer.WriteNumber("servedBytes"u8, s.served);
            writer.WriteEndObject();
        });

    /// <summary>
    /// <c>GET|HEAD /files/{key}/{name}</c>: the file with its validators and digest; one <c>Range</c> (<c>a-</c>, <c>a-b</c>,
    /// <c>-n</c>) honoured when <c>If-Range</c> is absent or matches; 416 with <c>Content-Range: bytes */L</c> past the end.
    /// <c>?disposition=</c> replaces the <c>Content-Disposition</c> header verbatim (hostile-name tests).
    /// </summary>
    private async Task DownloadAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        if (Name(context) is not { } name || _store.Get(Key(context), name) is not { } file)
        {
            await JsonResponse.WriteErrorAsync(context, 404, "not_found").ConfigureAwait(false);
            return;
        }

        FileStream stream;
        try
        {
            stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1, FileOptions.Asynchronous | FileOptions.SequentialScan);
        }
        catch (FileNotFoundException)
        {
            await JsonResponse.WriteErrorAsync(context, 404, "not_found").ConfigureAwait(false); // replaced while we looked
            return;
        }
        await using var _ = stream;

        var headers = response.Headers;
        headers.ETag = file.ETag;
        headers.LastModified = file.LastModified.ToString("r", CultureInfo.InvariantCulture);
        headers.AcceptRanges = "bytes";
        if (!request.Headers.ContainsKey(FileFaults.NoDigest)) headers["Repr-Digest"] = "sha-256=:" + Convert.ToBase64String(file.Sha256) + ":";
        headers.ContentDisposition = request.Query.TryGetValue("disposition", out var disposition)
            ? disposition.ToString()
            : new ContentDispositionHeaderValue("attachment") { FileName = AsciiName(file.Name), FileNameStar = file.Name }.ToString();
        response.ContentType = "application/octet-stream";

        var (from, to) = (0L, file.Length - 1);
        var status = 200;
        if (request.Headers.Range.Count == 1 && (IfRangeHolds(request, file) || request.Headers.ContainsKey(FileFaults.IgnoreIfRange)) && TryParseRange(request.Headers.Range.ToString(), file.Length, out var first, out var last))
        {
            if (first >= file.Length)
            {
                headers.ContentRange = $"bytes */{file.Length}";
                response.StatusCode = 416;
                return;
            }
            (from, to, status) = (first, last, 206);
            headers.ContentRange = $"bytes {from}-{to}/{file.Length}";
        }
        response.StatusCode = status;
        response.ContentLength = to - from + 1;
        if (HttpMethods.IsHead(request.Method) || file.Length == 0) return;

        var cut = _faults.CutFor(request, Key(context));
        var delay = FileFaults.Long(request, FileFaults.DelayPerBlockMs) ?? 0;
        stream.Position = from;
        var left = to - from + 1;
        long sent = 0;
        var buffer = ArrayPool<byte>.Shared.Rent(BlockSize);
        try
        {
            while (left > 0)
            {
                var want = (int)Math.Min(BlockSize, left);
                if (cut is { } limit) want = (int)Math.Min(want, limit - sent);
                if (want <= 0)
                {
                    await FileFaults.CutAsync(context).ConfigureAwait(false);
                    return;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(0, want), context.RequestAborted).ConfigureAwait(false);
                if (read == 0) break;
                await response.Body.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted).ConfigureAwait(false);
                _faults.Served(Key(context), read);
                sent += read;
                left -= read;
                if (delay > 0) await Task.Delay(TimeSpan.FromMilliseconds(delay), context.RequestAborted).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away.
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>RFC 9110 §13.1.5: a range is served only if <c>If-Range</c> is absent or names the current version exactly.</summary>
    private static bool IfRangeHolds(HttpRequest request, StoredFile file)
    {
        if (!request.Headers.TryGetValue(HeaderNames.IfRange, out var value)) return true;
        var text = value.ToString().Trim();
        if (text.StartsWith('"')) return text == file.ETag;
        if (text.StartsWith("W/", StringComparison.Ordinal)) return false;
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var date) && date == file.LastModified;
    }

    private static bool TryParseRange(string header, long length, out long first, out long last)
    {
        (first, last) = (0, length - 1);
        if (!header.StartsWith("bytes=", StringComparison.OrdinalIgnoreCase) || header.Contains(',')) return false;
        var spec = header[6..].Trim();
        var dash = spec.IndexOf('-');
        if (dash < 0) return false;
        var (a, b) = (spec[..dash].Trim(), spec[(dash + 1)..].Trim());
        if (a.Length == 0)
        {
            if (!long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out var suffix) || suffix == 0) return false;
            first = Math.Max(0, length - suffix);
            return true;
        }
        if (!long.TryParse(a, NumberStyles.None, CultureInfo.InvariantCulture, out first)) return false;
        if (b.Length > 0)
        {
            if (!long.TryParse(b, NumberStyles.None, CultureInfo.InvariantCulture, out last) || last < first) return false;
            last = Math.Min(last, length - 1);
        }
        return true;
    }

    private static string AsciiName(string name) =>
        string.Create(name.Length, name, static (span, source) =>
        {
            for (var i = 0; i < source.Length; i++) span[i] = source[i] is >= ' ' and < (char)127 and not '"' and not '\\' ? source[i] : '_';
        });
}
