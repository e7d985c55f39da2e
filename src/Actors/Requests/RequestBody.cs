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
}
