using System.Buffers;
using System.Security.Cryptography;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace Courier.Sandbox.Files;

/// <summary>
/// <c>POST /files/{key}/multipart</c>: a <c>multipart/form-data</c> upload as the seeds' servers expect it. The part under
/// the field <c>file</c> (or <c>?field=</c>) is streamed to disk and stored under its file name; the other fields are
/// echoed. 200 <c>{"name","length","sha256","etag","fields":{...}}</c>; 415 for another media type, 413 past the upload
/// limit, 400 without the file part.
/// </summary>
internal sealed class MultipartEndpoint(FileStore store, FileFaults faults)
{
    public async Task UploadAsync(HttpContext context)
    {
        var request = context.Request;
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var type) || !type.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(type.Boundary).Length == 0)
        {
            await JsonResponse.WriteErrorAsync(context, 415, "unsupported_media_type", "expected multipart/form-data with a boundary").ConfigureAwait(false);
            return;
        }
        var limit = FileEndpoints.UploadLimit(request);
        if (request.ContentLength > limit)
        {
            await JsonResponse.WriteErrorAsync(context, 413, "too_large", $"the limit is {limit} bytes").ConfigureAwait(false);
            return;
        }
        FileEndpoints.AllowLargeBody(context);

        var key = FileEndpoints.Key(context);
        var field = request.Query.TryGetValue("field", out var f) ? f.ToString() : "file";
        var cut = faults.CutFor(request, key);
        var reader = new MultipartReader(HeaderUtilities.RemoveQuotes(type.Boundary).ToString(), request.Body);
        var fields = new List<KeyValuePair<string, string>>();
        StoredFile? stored = null;
        while (await reader.ReadNextSectionAsync(context.RequestAborted).ConfigureAwait(false) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition)) continue;
            var name = HeaderUtilities.RemoveQuotes(disposition.Name).ToString();
            if (disposition.IsFileDisposition() && name == field)
            {
                var fileName = Path.GetFileName(HeaderUtilities.RemoveQuotes(disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).ToString());
                var received = await ReceiveAsync(context, section.Body, limit, cut).ConfigureAwait(false);
                if (received is null) return; // cut, or too large: already answered
                stored = store.Commit(key, fileName.Length == 0 ? "upload" : fileName, received.Value.Path, received.Value.Sha256);
            }
            else
            {
                using var text = new StreamReader(section.Body);
                fields.Add(new(name, await text.ReadToEndAsync(context.RequestAborted).ConfigureAwait(false)));
            }
        }
        if (stored is null)
        {
            await JsonResponse.WriteErrorAsync(context, 400, "no_file", $"no file part named '{field}'").ConfigureAwait(false);
            return;
        }
        await JsonResponse.WriteAsync(context, 200, (stored, fields), static (writer, s) =>
        {
            writer.WriteStartObject();
            writer.WriteString("name"u8, s.stored.Name);
            writer.WriteNumber("length"u8, s.stored.Length);
            writer.WriteString("sha256"u8, s.stored.Sha256Hex);
            writer.WriteString("etag"u8, s.stored.ETag);
            writer.WriteStartObject("fields"u8);
            foreach (var (k, v) in s.fields) writer.WriteString(k, v);
            writer.WriteEndObject();
            writer.WriteEndObject();
        }).ConfigureAwait(false);
    }

    /// <summary>Streams a part to a temporary file, hashing it; null when the request was cut or refused (and answered).</summary>
    private async Task<(string Path, byte[] Sha256)?> ReceiveAsync(HttpContext context, Stream body, long limit, long? cut)
    {
        var temp = store.NewTempPath();
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = ArrayPool<byte>.Shared.Rent(81920);
        var keep = false;
        try
        {
            await using (var file = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                long total = 0;
                int read;
                while ((read = await body.ReadAsync(buffer.AsMemory(0, 81920), context.RequestAborted).ConfigureAwait(false)) > 0)
                {
                    total += read;
                    if (cut is { } after && total >= after)
                    {
                        context.Abort();
                        return null;
                    }
                    if (total > limit)
                    {
                        await JsonResponse.WriteErrorAsync(context, 413, "too_large", $"the limit is {limit} bytes").ConfigureAwait(false);
                        return null;
                    }
                    hash.AppendData(buffer, 0, read);
                    await file.WriteAsync(buffer.AsMemory(0, read), context.RequestAborted).ConfigureAwait(false);
                }
            }
            keep = true;
            return (temp, hash.GetHashAndReset());
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
            if (!keep) FileStore.TryDelete(temp);
        }
    }
}
