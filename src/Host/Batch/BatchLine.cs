using System.Buffers;
using System.Text;
using System.Text.Json;
using Courier.Requests;

namespace Courier.Host.Batch;

/// <summary>One input line of a batch, parsed: <c>{"id", "method"?, "url", "headers"?: {name: value}, "body"?}</c>.</summary>
internal sealed record BatchLine(string Id, long LineNumber, HttpCall Call)
{
    /// <summary>
    /// Parses a line; a malformed one throws <see cref="FormatException"/> naming what is wrong (the first problem in the
    /// order: JSON, object, id, url, method, headers). One forward read of the line's UTF-8 (<see cref="Utf8JsonReader"/>),
    /// no document: this runs once per line of a batch. A repeated property: the last one counts.
    /// </summary>
    public static BatchLine Parse(string text, long lineNumber, Uri? baseAddress)
    {
        var max = Encoding.UTF8.GetMaxByteCount(text.Length);
        byte[]? rented = null;
        Span<byte> utf8 = max <= 1024 ? stackalloc byte[max] : (rented = ArrayPool<byte>.Shared.Rent(max));
        try
        {
            return Parse(utf8[..Encoding.UTF8.GetBytes(text, utf8)], lineNumber, baseAddress);
        }
        finally
        {
            if (rented is not null) ArrayPool<byte>.Shared.Return(rented);
        }
    }

    private static BatchLine Parse(ReadOnlySpan<byte> utf8, long lineNumber, Uri? baseAddress)
    {
        string? id = null, method = null, urlText = null, contentType = null, headerError = null;
        var urlGiven = false;
        List<KeyValuePair<string, string>>? headers = null;
        byte[]? body = null;
        var bodyIsText = false;
        var reader = new Utf8JsonReader(utf8);
        try
        {
            reader.Read();
            if (reader.TokenType != JsonTokenType.StartObject)
            {
                reader.Skip();
                while (reader.Read())
                {
                }
                throw new FormatException("a line must be a JSON object");
            }
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var name = reader.ValueTextEquals("id"u8) ? Field.Id
                    : reader.ValueTextEquals("method"u8) ? Field.Method
                    : reader.ValueTextEquals("url"u8) ? Field.Url
                    : reader.ValueTextEquals("headers"u8) ? Field.Headers
                    : reader.ValueTextEquals("body"u8) ? Field.Body
                    : Field.Other;
                reader.Read();
                switch (name)
                {
                    case Field.Id:
                        id = reader.TokenType switch
                        {
                            JsonTokenType.String => reader.GetString(),
                            JsonTokenType.Number => Encoding.UTF8.GetString(reader.ValueSpan), // its text, as written
                            _ => null,
                        };
                        reader.Skip(); // an object or array (not an id): past it
                        break;
                    case Field.Method:
                        method = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                        reader.Skip();
                        break;
                    case Field.Url:
                        urlGiven = reader.TokenType == JsonTokenType.String;
                        urlText = urlGiven ? reader.GetString() : null;
                        reader.Skip();
                        break;
                    case Field.Headers:
                        (headers, contentType, headerError) = ReadHeaders(ref reader);
                        break;
                    case Field.Body:
                        bodyIsText = reader.TokenType == JsonTokenType.String;
                        body = reader.TokenType switch
                        {
                            JsonTokenType.Null => null,
                            JsonTokenType.String => Unescaped(ref reader),
                            JsonTokenType.StartObject or JsonTokenType.StartArray => RawValue(ref reader, utf8),
                            _ => reader.ValueSpan.ToArray(),
                        };
                        break;
                    default:
                        reader.Skip();
                        break;
                }
            }
            while (reader.Read())
            {
                // Nothing may follow the object but whitespace: the reader throws if anything does.
            }
        }
        catch (JsonException ex)
        {
            throw new FormatException($"not valid JSON ({ex.Message})");
        }

        if (id is null) throw new FormatException("missing \"id\"");
        if (!urlGiven) throw new FormatException("missing \"url\"");
        if (!Uri.TryCreate(urlText, UriKind.RelativeOrAbsolute, out var url)) throw new FormatException($"\"url\" is not a URL");
        if (!url.IsAbsoluteUri)
        {
            if (baseAddress is null) throw new FormatException("\"url\" is relative and no Courier:BaseAddress is configured");
            url = new Uri(baseAddress, url);
        }
        if (url.Scheme is not ("http" or "https")) throw new FormatException("\"url\" must be http or https");

        method ??= "GET";
        HttpMethod httpMethod;
        try
        {
            httpMethod = HttpMethod.Parse(method.ToUpperInvariant());
        }
        catch (FormatException)
        {
            throw new FormatException($"\"method\" '{method}' is not an HTTP method");
        }
        if (headerError is not null) throw new FormatException(headerError);

        var requestBody = body is null ? null
            : RequestBody.FromBytes(body, contentType ?? (bodyIsText ? "text/plain; charset=utf-8" : "application/json"));
        return new BatchLine(id, lineNumber, new HttpCall(httpMethod, url) { Headers = headers ?? [], Body = requestBody });
    }

    /// <summary>The <c>headers</c> object: its entries but Content-Type, that one apart, or the first problem found.</summary>
    private static (List<KeyValuePair<string, string>>? Headers, string? ContentType, string? Error) ReadHeaders(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.StartObject)
        {
            reader.Skip();
            return (null, null, "\"headers\" must be an object of name: value");
        }
        var headers = new List<KeyValuePair<string, string>>();
        string? contentType = null, error = null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var name = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                error ??= $"header \"{name}\" must be a string";
                reader.Skip();
                continue;
            }
            var value = reader.GetString()!;
            if (string.Equals(name, "Content-Type", StringComparison.OrdinalIgnoreCase)) contentType = value;
            else headers.Add(new(name, value));
        }
        return error is null ? (headers, contentType, null) : (null, null, error);
    }

    private static byte[] Unescaped(ref Utf8JsonReader reader)
    {
        if (!reader.ValueIsEscaped) return reader.ValueSpan.ToArray();
        var buffer = new byte[reader.ValueSpan.Length]; // unescaping never lengthens UTF-8
        return buffer[..reader.CopyString(buffer)];
    }

    /// <summary>An object or array value's text as written (the reader is on its start; left on its end).</summary>
    private static byte[] RawValue(ref Utf8JsonReader reader, ReadOnlySpan<byte> utf8)
    {
        var start = (int)reader.TokenStartIndex;
        reader.Skip();
        return utf8[start..(int)reader.BytesConsumed].ToArray();
    }

    private enum Field
    {
        Other,
        Id,
        Method,
        Url,
        Headers,
        Body,
    }

    /// <summary>The id of a line (a string or a number), or null.</summary>
    public static string? ReadId(JsonElement root) =>
        root.TryGetProperty("id", out var id) ? id.ValueKind switch
        {
            JsonValueKind.String => id.GetString(),
            JsonValueKind.Number => id.GetRawText(),
            _ => null,
        } : null;
}
