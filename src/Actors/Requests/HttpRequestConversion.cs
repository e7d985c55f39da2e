using System.Buffers;
using System.Net;

namespace Courier.Requests;

/// <summary>
/// Turns an <see cref="HttpRequestMessage"/> into an <see cref="HttpCall"/> without dropping anything the caller set:
/// headers, the body, the version and its policy, and <see cref="HttpRequestMessage.Options"/>.
/// </summary>
/// <remarks>
/// The body rule: content that ends within <c>maxBufferedBodyBytes</c> (byte arrays, strings, forms, JSON, any known-length
/// content up to the limit, and unknown-length content that turns out to be that short) is read once and replayed on every
/// attempt. Anything longer is sent once, as it comes (the prefix already read is sent first): such a call is not retried,
/// not resent after a token refresh and not redirected with its body (<see cref="RequestBody.SendOnce"/>).
/// </remarks>
internal static class HttpRequestConversion
{
    /// <summary>The version and policy an <see cref="HttpRequestMessage"/> has when nobody set them: the runtime's apply.</summary>
    private static readonly Version UnsetVersion = HttpVersion.Version11;

    public static async Task<HttpCall> ToCallAsync(HttpRequestMessage request, Uri uri, int maxBufferedBodyBytes, CancellationToken cancellationToken)
    {
        var headers = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in request.Headers)
            foreach (var value in values) headers.Add(new(name, value));

        var options = new List<KeyValuePair<string, object?>>();
        foreach (var entry in request.Options) options.Add(entry);

        // HttpRequestMessage and HttpClient both default to 1.1 / RequestVersionOrLower: that pair means "not chosen", and
        // the runtime's default (HTTP/2 where offered) applies. Any other choice is the caller's and is kept.
        var chosen = request.Version != UnsetVersion || request.VersionPolicy != HttpVersionPolicy.RequestVersionOrLower;

        return new HttpCall(request.Method, uri)
        {
            Headers = headers,
            Body = request.Content is { } content ? await ToBodyAsync(content, maxBufferedBodyBytes, cancellationToken).ConfigureAwait(false) : null,
            Version = chosen ? request.Version : null,
            VersionPolicy = chosen ? request.VersionPolicy : null,
            RequestOptions = options,
        };
    }

    /// <summary>Buffers the content when it ends within the limit; otherwise makes a one-shot body of it.</summary>
    public static async Task<RequestBody> ToBodyAsync(HttpContent content, int maxBufferedBodyBytes, CancellationToken cancellationToken)
    {
        var contentHeaders = new List<KeyValuePair<string, string>>();
        foreach (var (name, values) in content.Headers)
        {
            if (string.Equals(name, "Content-Length", StringComparison.OrdinalIgnoreCase)) continue;
            foreach (var value in values) contentHeaders.Add(new(name, value));
        }

        // Known to be too long: do not read a byte of it here.
        if (content.Headers.ContentLength is { } length && length > maxBufferedBodyBytes) return RequestBody.SendOnce(content);

        var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var limit = maxBufferedBodyBytes + 1; // one byte past the limit tells "does not fit" from "fits exactly"
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Min(limit, 64 * 1024));
        var total = 0;
        byte[] prefix;
        try
        {
            while (true)
            {
                if (total >= limit)
                {
                    prefix = buffer.AsSpan(0, total).ToArray();
                    break;
                }
                if (total == buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Min(limit, buffer.Length * 2));
                    buffer.AsSpan(0, total).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                }
                var read = await stream.ReadAsync(buffer.AsMemory(total, Math.Min(buffer.Length, limit) - total), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    await stream.DisposeAsync().ConfigureAwait(false);
                    return RequestBody.FromBytes(buffer.AsSpan(0, total).ToArray(), contentHeaders);
                }
                total += read;
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        // Longer than the limit and of unknown length: what was read goes first, then the rest of the stream, once.
        var prefixed = new PrefixedStreamContent(prefix, stream);
        foreach (var (name, value) in contentHeaders) prefixed.Headers.TryAddWithoutValidation(name, value);
        return RequestBody.SendOnce(prefixed);
    }

    /// <summary>Bytes already read from a stream, followed by the rest of that stream; of unknown length (sent chunked).</summary>
    private sealed class PrefixedStreamContent(byte[] prefix, Stream rest) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
        {
            await stream.WriteAsync(prefix, cancellationToken).ConfigureAwait(false);
            await rest.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
        }

        protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
            SerializeToStreamAsync(stream, context, CancellationToken.None);

        protected override bool TryComputeLength(out long length)
        {
            length = 0;
            return false;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing) rest.Dispose();
            base.Dispose(disposing);
        }
    }
}
