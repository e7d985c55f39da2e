using System.Text.Encodings.Web;
using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Http;

/// <summary>
/// Writes JSON responses with <see cref="Utf8JsonWriter"/> into a pooled buffer, so every response carries a
/// <c>Content-Length</c> and no reflection-based serialization is involved.
/// </summary>
internal static class JsonResponse
{
    public const string ContentType = "application/json";

    private static readonly JsonWriterOptions WriterOptions = new()
    {
        // The sandbox answers test clients, not browsers: keep '+', '<', non-ASCII etc. readable.
        Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
        SkipValidation = true,
    };

    [ThreadStatic]
    private static Utf8JsonWriter? t_writer;

    /// <summary>Writes a JSON body produced synchronously by <paramref name="write"/> with the given status code.</summary>
    public static async Task WriteAsync<TState>(HttpContext context, int statusCode, TState state, Action<Utf8JsonWriter, TState> write)
    {
        var response = context.Response;
        response.StatusCode = statusCode;
        if (!CanHaveBody(context.Request.Method, statusCode))
        {
            return;
        }

        using var buffer = new PooledBufferWriter();
        Render(buffer, state, write);
        response.ContentType = ContentType;
        response.ContentLength = buffer.WrittenCount;
        // No cancellation token: writes to a connection the client dropped complete silently in Kestrel.
        await response.Body.WriteAsync(buffer.WrittenMemory).ConfigureAwait(false);
    }

    /// <summary>Writes <c>{"error": error}</c> (plus an optional description) with the given status code.</summary>
    public static Task WriteErrorAsync(HttpContext context, int statusCode, string error, string? description = null) =>
        WriteAsync(context, statusCode, (error, description), static (writer, s) =>
        {
            writer.WriteStartObject();
            writer.WriteString("error"u8, s.error);
            if (s.description is not null)
            {
                writer.WriteString("error_description"u8, s.description);
            }

            writer.WriteEndObject();
        });

    /// <summary>Responses to HEAD, 1xx, 204 and 304 must not carry a body.</summary>
    public static bool CanHaveBody(string method, int statusCode) =>
        statusCode >= 200 && statusCode != StatusCodes.Status204NoContent && statusCode != StatusCodes.Status304NotModified
        && !HttpMethods.IsHead(method);

    private static void Render<TState>(PooledBufferWriter buffer, TState state, Action<Utf8JsonWriter, TState> write)
    {
        // The writer is only used synchronously (no await in between), so a per-thread instance is safe.
        var writer = t_writer;
        if (writer is null)
        {
            writer = t_writer = new Utf8JsonWriter(buffer, WriterOptions);
        }
        else
        {
            writer.Reset(buffer);
        }

        try
        {
            write(writer, state);
            writer.Flush();
        }
        finally
        {
            writer.Reset(Stream.Null);
        }
    }
}
