using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Courier.Sandbox.Echo;

/// <summary>Reads a request body as UTF-8 text without touching the body stream when there is none.</summary>
internal static class RequestBody
{
    public static ValueTask<string> ReadAsStringAsync(HttpRequest request)
    {
        var canHaveBody = request.HttpContext.Features.Get<IHttpRequestBodyDetectionFeature>()?.CanHaveBody
                          ?? request.ContentLength is not 0;
        return canHaveBody && request.ContentLength is not 0
            ? new ValueTask<string>(ReadAllAsync(request))
            : new ValueTask<string>(string.Empty);
    }

    private static async Task<string> ReadAllAsync(HttpRequest request)
    {
        var reader = request.BodyReader;
        while (true)
        {
            var result = await reader.ReadAsync(request.HttpContext.RequestAborted).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (result.IsCompleted || result.IsCanceled)
            {
                // Invalid UTF-8 sequences become U+FFFD.
                var text = Encoding.UTF8.GetString(buffer);
                reader.AdvanceTo(buffer.End);
                return text;
            }

            // Keep everything buffered until the body is complete.
            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}
