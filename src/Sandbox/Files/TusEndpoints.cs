using System.Buffers;
using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Files;

/// <summary>
/// tus 1.0 core with the creation and creation-with-upload extensions, under <c>/files/{key}/tus</c>: OPTIONS
/// (capabilities), POST (creation with <c>Upload-Length</c> and <c>Upload-Metadata</c>, 413 past the limit; with an
/// <c>application/offset+octet-stream</c> body, its bytes are the upload's first ones), HEAD (offset), PATCH (append at
/// <c>Upload-Offset</c>; 409 on a mismatch, 415 without <c>application/offset+octet-stream</c>). Bytes received before a
/// connection drops are kept, as real tus servers do. Bytes are hashed as they are appended, so a completed upload is
/// moved (not copied, not read again) into the store under its <c>filename</c> metadata, as the multipart endpoint's are.
/// </summary>
internal sealed class TusEndpoints(FileStore store, FileFaults faults)
{
    private const string Version = "1.0.0";
    private const string Extensions = "creation,creation-with-upload";

    /// <summary>
    /// Fault header: the extensions this request sees advertised (OPTIONS) and honoured (POST), instead of
    /// <see cref="Extensions"/>; e.g. <c>creation</c> plays a server without creation-with-upload, which refuses a POST body.
    /// </summary>
    public const string ExtensionsFault = "X-Fault-Tus-Extensions";

    private static string ExtensionsOf(HttpRequest request) =>
        request.Headers.TryGetValue(ExtensionsFault, out var value) ? value.ToString() : Extensions;
    private readonly ConcurrentDictionary<string, Upload> _uploads = new();

    public static Task OptionsAsync(HttpContext context)
    {
        var headers = context.Response.Headers;
        headers["Tus-Resumable"] = Version;
        headers["Tus-Version"] = Version;
        headers["Tus-Extension"] = ExtensionsOf(context.Request);
        headers["Tus-Max-Size"] = FileEndpoints.UploadLimit(context.Request).ToString(CultureInfo.InvariantCulture);
        context.Response.StatusCode = 204;
        return Task.CompletedTask;
    }

    public async Task CreateAsync(HttpContext context)
    {
        var request = context.Request;
        context.Response.Headers["Tus-Resumable"] = Version;
        if (request.Headers["Tus-Resumable"].ToString() != Version)
        {
            await JsonResponse.WriteErrorAsync(context, 412, "unsupported_version", "Tus-Resumable: 1.0.0 is required").ConfigureAwait(false);
            return;
        }
        if (FileFaults.Long(request, "Upload-Length") is not { } length)
        {
            await JsonResponse.WriteErrorAsync(context, 400, "invalid_length", "Upload-Length is required").ConfigureAwait(false);
            return;
        }
        var limit = FileEndpoints.UploadLimit(request);
        if (length > limit)
        {
            await JsonResponse.WriteErrorAsync(context, 413, "too_large", $"the limit is {limit} bytes").ConfigureAwait(false);
            return;
        }

        var withUpload = request.ContentLength > 0 || request.Headers.ContentType.Count > 0;
        if (withUpload && !ExtensionsOf(request).Split(',', StringSplitOptions.TrimEntries).Contains("creation-with-upload"))
        {
            await JsonResponse.WriteErrorAsync(context, 400, "unsupported_extension", "this server does not support creation-with-upload").ConfigureAwait(false);
            return;
        }
        if (withUpload && !string.Equals(request.ContentType, "application/offset+octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            await JsonResponse.WriteErrorAsync(context, 415, "unsupported_media_type", "a creation body needs Content-Type: application/offset+octet-stream").ConfigureAwait(false);
            return;
        }

        var key = FileEndpoints.Key(context);
        var name = Metadata(request.Headers["Upload-Metadata"].ToString()).GetValueOrDefault("filename") is { Length: > 0 } given ? Path.GetFileName(given) : null;
        var id = Guid.NewGuid().ToString("N");
        var upload = new Upload(key, string.IsNullOrEmpty(name) ? id : name, length, store.NewTempPath());
        await File.WriteAllBytesAsync(upload.Path, [], context.RequestAborted).ConfigureAwait(false);
        _uploads[id] = upload;
        var prefix = request.Path.Value![..request.Path.Value!.LastIndexOf("/tus", StringComparison.Ordinal)];
        context.Response.Headers.Location = $"{prefix}/tus/{id}";
        if (withUpload)
        {
            // creation-with-upload: the body is the upload's first bytes, kept even when the connection drops.
            FileEndpoints.AllowLargeBody(context);
            if (await AppendAsync(context, upload, faults.CutFor(request, key)).ConfigureAwait(false))
            {
                context.Abort();
                return;
            }
            if (upload.Offset > upload.Length)
            {
                await JsonResponse.WriteErrorAsync(context, 400, "too_long", "more bytes than Upload-Length").ConfigureAwait(false);
                return;
            }
            var lie = FileFaults.Long(request, FileFaults.LieOffset) ?? 0;
            context.Response.Headers["Upload-Offset"] = (upload.Offset + lie).ToString(CultureInfo.InvariantCulture);
        }
        context.Response.StatusCode = 201;
        if (upload.Offset == length) Complete(upload);
    }

    public Task HeadAsync(HttpContext context)
    {
        var response = context.Response;
        response.Headers["Tus-Resumable"] = Version;
        response.Headers.CacheControl = "no-store";
        if (!_uploads.TryGetValue((string)context.Request.RouteValues["id"]!, out var upload))
        {
            response.StatusCode = 404;
            return Task.CompletedTask;
        }
        response.Headers["Upload-Offset"] = Interlocked.Read(ref upload.Offset).ToString(CultureInfo.InvariantCulture);
        response.Headers["Upload-Length"] = upload.Length.ToString(CultureInfo.InvariantCulture);
        response.StatusCode = 200;
        return Task.CompletedTask;
    }

    public async Task PatchAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        response.Headers["Tus-Resumable"] = Version;
        if (!_uploads.TryGetValue((string)request.RouteValues["id"]!, out var upload))
        {
            await JsonResponse.WriteErrorAsync(context, 404, "not_found").ConfigureAwait(false);
            return;
        }
        if (!string.Equals(request.ContentType, "application/offset+octet-stream", StringComparison.OrdinalIgnoreCase))
        {
            await JsonResponse.WriteErrorAsync(context, 415, "unsupported_media_type", "PATCH needs Content-Type: application/offset+octet-stream").ConfigureAwait(false);
            return;
        }
        var patch = faults.Count(upload.Key, "patch");
        if (faults.FailThisChunk(request, patch))
        {
            await JsonResponse.WriteErrorAsync(context, 500, "injected", $"PATCH {patch} of the key fails").ConfigureAwait(false);
            return;
        }
        if (!await upload.Lock.WaitAsync(TimeSpan.Zero).ConfigureAwait(false))
        {
            await JsonResponse.WriteErrorAsync(context, 409, "locked", "another PATCH is in progress").ConfigureAwait(false);
            return;
        }
        try
        {
            if (FileFaults.Long(request, "Upload-Offset") is not { } offset || offset != upload.Offset)
            {
                await JsonResponse.WriteErrorAsync(context, 409, "offset_mismatch", $"the upload is at {upload.Offset}").ConfigureAwait(false);
                return;
            }
            if (upload.Completed)
            {
                // Its bytes are in the store now: an empty PATCH at the end is answered, anything more is too long.
                if (request.ContentLength is > 0 or null)
                {
                    await JsonResponse.WriteErrorAsync(context, 400, "too_long", "more bytes than Upload-Length").ConfigureAwait(false);
                    return;
                }
                response.Headers["Upload-Offset"] = upload.Offset.ToString(CultureInfo.InvariantCulture);
                response.StatusCode = 204;
                return;
            }
            FileEndpoints.AllowLargeBody(context);
            var cut = faults.CutFor(request, upload.Key);
            var cutNow = await AppendAsync(context, upload, cut).ConfigureAwait(false);
            if (cutNow)
            {
                context.Abort();
                return;
            }
            if (upload.Offset > upload.Length)
            {
                await JsonResponse.WriteErrorAsync(context, 400, "too_long", "more bytes than Upload-Length").ConfigureAwait(false);
                return;
            }
            if (upload.Offset == upload.Length) Complete(upload);
            var lie = FileFaults.Long(request, FileFaults.LieOffset) ?? 0;
            response.Headers["Upload-Offset"] = (upload.Offset + lie).ToString(CultureInfo.InvariantCulture);
            response.StatusCode = 204;
        }
        finally
        {
            upload.Lock.Release();
        }
    }

    /// <summary>Appends the body, keeping every byte received even if the connection drops; true when the fault cut it.</summary>
    private static async Task<bool> AppendAsync(HttpContext context, Upload upload, long? cut)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        try
        {
            await using var file = new FileStream(upload.Path, FileMode.Append, FileAccess.Write, FileShare.Read, 1, FileOptions.Asynchronous);
            long received = 0;
            while (true)
            {
                var want = cut is { } after ? (int)Math.Min(81920, after - received) : 81920;
                if (want <= 0) return true;
                int read;
                try
                {
                    read = await context.Request.Body.ReadAsync(buffer.AsMemory(0, want), context.RequestAborted).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or OperationCanceledException or BadHttpRequestException)
                {
                    return false; // the client went away: what was appended stays
                }
                if (read == 0) return false;
                await file.WriteAsync(buffer.AsMemory(0, read)).ConfigureAwait(false);
                upload.Hash.AppendData(buffer, 0, read);
                received += read;
                Interlocked.Add(ref upload.Offset, read);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Complete(Upload upload)
    {
        // The received file moves into the store (what downloads and /info see); the upload keeps answering HEAD with its
        // final offset from memory.
        upload.Completed = true;
        store.Commit(upload.Key, upload.Name, upload.Path, upload.Hash.GetHashAndReset());
        upload.Hash.Dispose();
    }

    private static Dictionary<string, string> Metadata(string header)
    {
        var result = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var pair in header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var space = pair.IndexOf(' ');
            if (space < 0)
            {
                result[pair] = "";
                continue;
            }
            try
            {
                result[pair[..space]] = Encoding.UTF8.GetString(Convert.FromBase64String(pair[(space + 1)..].Trim()));
            }
            catch (FormatException)
            {
                // A malformed pair is ignored, as tus servers do.
            }
        }
        return result;
    }

    private sealed class Upload(string key, string name, long length, string path)
    {
        public long Offset;

        public string Key { get; } = key;
        public string Name { get; } = name;
        public long Length { get; } = length;
        public string Path { get; } = path;
        public SemaphoreSlim Lock { get; } = new(1, 1);

        /// <summary>The SHA-256 of the bytes appended so far (appends are serialised by <see cref="Lock"/>).</summary>
        public IncrementalHash Hash { get; } = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        /// <summary>Every byte arrived and the file was moved into the store.</summary>
        public bool Completed { get; set; }
    }
}
