using System.Net.Http.Headers;
using System.Text.Json;

namespace Courier.Requests;

/// <summary>A request body that can be sent again on every attempt.</summary>
public abstract class RequestBody
{
    /// <summary>Creates a fresh <see cref="HttpContent"/> for one attempt. The runtime disposes it after the attempt.</summary>
    public abstract HttpContent CreateContent();

    /// <summary>A body held in memory, with optional content headers (Content-Type and the like).</summary>
    public static RequestBody FromBytes(ReadOnlyMemory<byte> bytes, string? contentType = null) =>
        new BytesBody(bytes, contentType is null ? [] : [new("Content-Type", contentType)]);

    /// <summary>A body held in memory with the given content headers.</summary>
    public static RequestBody FromBytes(ReadOnlyMemory<byte> bytes, IReadOnlyList<KeyValuePair<string, string>> contentHeaders) =>
        new BytesBody(bytes, contentHeaders);

    /// <summary>A body produced anew for each attempt, for content that is streamed (a file, a generated payload).</summary>
    public static RequestBody FromFactory(Func<HttpContent> factory) => new FactoryBody(factory);

    /// <summary>
    /// A body that cannot be produced twice (a network stream, content larger than the buffering limit): it is sent
    /// once, and the call is then neither retried, nor resent after a token refresh, nor redirected with its body.
    /// </summary>
    public static RequestBody SendOnce(HttpContent content) => new OnceBody(content ?? throw new ArgumentNullException(nameof(content)));

    /// <summary>Whether <see cref="CreateContent"/> may be called again for another attempt.</summary>
    public virtual bool IsReplayable => true;

    /// <summary>A JSON body, serialised once.</summary>
    public static RequestBody Json<T>(T value, JsonSerializerOptions? options = null) =>
        new BytesBody(JsonSerializer.SerializeToUtf8Bytes(value, options ?? JsonSerializerOptions.Web),
            [new("Content-Type", "application/json; charset=utf-8")]);

    private sealed class BytesBody(ReadOnlyMemory<byte> bytes, IReadOnlyList<KeyValuePair<string, string>> contentHeaders) : RequestBody
    {
        public override HttpContent CreateContent()
        {
            var content = new ReadOnlyMemoryContent(bytes);
            foreach (var (name, value) in contentHeaders) content.Headers.TryAddWithoutValidation(name, value);
            return content;
        }
    }

    private sealed class FactoryBody(Func<HttpContent> factory) : RequestBody
    {
        public override HttpContent CreateContent() =>
            factory() ?? throw new InvalidOperationException("The request body factory returned null.");
    }

    private sealed class OnceBody(HttpContent content) : RequestBody
    {
        private int _taken;

        public override bool IsReplayable => false;

        public override HttpContent CreateContent() =>
            Interlocked.Exchange(ref _taken, 1) == 0
                ? content
                : throw new InvalidOperationException("The request body is a stream that was already sent once and cannot be sent again.");
    }
}
