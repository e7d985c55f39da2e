using System.Text.Json;
using Courier.Sandbox.Auth;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Echo;

/// <summary>What the echo JSON describes.</summary>
internal readonly record struct EchoState(HttpRequest Request, string Body, string Key, long Attempt, AccessTokenRecord? Token);

/// <summary>Writes the echo document: method, path, query, headers, body, key, attempt (and token details on <c>/secure</c>).</summary>
internal static class EchoWriter
{
    public static readonly Action<Utf8JsonWriter, EchoState> Write = static (writer, echo) =>
    {
        var request = echo.Request;
        writer.WriteStartObject();
        writer.WriteString("method"u8, request.Method);
        writer.WriteString("path"u8, request.PathBase.HasValue ? request.PathBase.Add(request.Path).Value : request.Path.Value);
        writer.WriteString("query"u8, request.QueryString.Value ?? string.Empty);

        writer.WriteStartObject("headers"u8);
        foreach (var header in request.Headers)
        {
            // Repeated headers are joined with ", " as HTTP allows (RFC 9110 §5.3).
            writer.WriteString(header.Key, header.Value.Count == 1 ? header.Value[0] : string.Join(", ", header.Value.ToArray()));
        }

        writer.WriteEndObject();

        writer.WriteString("body"u8, echo.Body);
        writer.WriteString("key"u8, echo.Key);
        writer.WriteNumber("attempt"u8, echo.Attempt);
        if (echo.Token is { } token)
        {
            writer.WriteString("subject"u8, token.Family.Subject);
            writer.WriteString("jti"u8, token.Jti);
            writer.WriteString("family"u8, token.Family.Id);
            writer.WriteNumber("tokenGeneration"u8, token.Generation);
        }

        writer.WriteEndObject();
    };
}
