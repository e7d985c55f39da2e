using System.Text;
using System.Text.Json;
using Courier.Requests;

namespace Courier.Host.Batch;

/// <summary>One input line of a batch, parsed: <c>{"id", "method"?, "url", "headers"?: {name: value}, "body"?}</c>.</summary>
internal sealed record BatchLine(string Id, long LineNumber, HttpCall Call)
{
    /// <summary>Parses a line; a malformed one throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static BatchLine Parse(string text, long lineNumber, Uri? baseAddress)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(text);
        }
        catch (JsonException ex)
        {
            throw new FormatException($"not valid JSON ({ex.Message})");
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object) throw new FormatException("a line must be a JSON object");
            var id = ReadId(root) ?? throw new FormatException("missing \"id\"");
            var method = root.TryGetProperty("method", out var m) && m.ValueKind == JsonValueKind.String ? m.GetString()! : "GET";
            if (!root.TryGetProperty("url", out var u) || u.ValueKind != JsonValueKind.String) throw new FormatException("missing \"url\"");
            var urlText = u.GetString()!;
            if (!Uri.TryCreate(urlText, UriKind.RelativeOrAbsolute, out var url)) throw new FormatException($"\"url\" is not a URL");
            if (!url.IsAbsoluteUri)
            {
                if (baseAddress is null) throw new FormatException("\"url\" is relative and no Courier:BaseAddress is configured");
                url = new Uri(baseAddress, url);
            }
            if (url.Scheme is not ("http" or "https")) throw new FormatException("\"url\" must be http or https");

            HttpMethod httpMethod;
            try
            {
                httpMethod = HttpMethod.Parse(method.ToUpperInvariant());
            }
            catch (FormatException)
            {
                throw new FormatException($"\"method\" '{method}' is not an HTTP method");
            }

            var headers = new List<KeyValuePair<string, string>>();
            string? contentType = null;
            if (root.TryGetProperty("headers", out var h))
            {
                if (h.ValueKind != JsonValueKind.Object) throw new FormatException("\"headers\" must be an object of name: value");
                foreach (var header in h.EnumerateObject())
                {
                    if (header.Value.ValueKind != JsonValueKind.String) throw new FormatException($"header \"{header.Name}\" must be a string");
                    if (string.Equals(header.Name, "Content-Type", StringComparison.OrdinalIgnoreCase)) contentType = header.Value.GetString();
                    else headers.Add(new(header.Name, header.Value.GetString()!));
                }
            }

            RequestBody? body = null;
            if (root.TryGetProperty("body", out var b) && b.ValueKind != JsonValueKind.Null)
            {
                body = b.ValueKind == JsonValueKind.String
                    ? RequestBody.FromBytes(Encoding.UTF8.GetBytes(b.GetString()!), contentType ?? "text/plain; charset=utf-8")
                    : RequestBody.FromBytes(System.Runtime.InteropServices.JsonMarshal.GetRawUtf8Value(b).ToArray(), contentType ?? "application/json");
            }
            return new BatchLine(id, lineNumber, new HttpCall(httpMethod, url) { Headers = headers, Body = body });
        }
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
