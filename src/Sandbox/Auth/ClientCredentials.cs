using System.Buffers.Text;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Auth;

/// <summary>Reads OAuth client credentials (RFC 6749 §2.3.1): HTTP Basic first, else <c>client_id</c>/<c>client_secret</c> form fields.</summary>
internal static class ClientCredentials
{
    private const string BasicScheme = "Basic ";

    public static (string? ClientId, string? ClientSecret) Read(HttpRequest request, IFormCollection form)
    {
        var authorization = request.Headers.Authorization.ToString();
        if (authorization.StartsWith(BasicScheme, StringComparison.OrdinalIgnoreCase))
        {
            return ParseBasic(authorization.AsSpan(BasicScheme.Length).Trim());
        }

        return (NullIfEmpty(form["client_id"]), NullIfEmpty(form["client_secret"]));
    }

    /// <summary>Decodes <c>base64(urlencode(id) ":" urlencode(secret))</c>; malformed input yields nulls.</summary>
    private static (string? ClientId, string? ClientSecret) ParseBasic(ReadOnlySpan<char> encoded)
    {
        var bytes = new byte[Base64.GetMaxDecodedFromUtf8Length(encoded.Length)];
        if (!Convert.TryFromBase64Chars(encoded, bytes, out var length))
        {
            return (null, null);
        }

        var decoded = Encoding.UTF8.GetString(bytes, 0, length);
        var colon = decoded.IndexOf(':');
        return colon < 0
            ? (null, null)
            : (FormDecode(decoded[..colon]), FormDecode(decoded[(colon + 1)..]));
    }

    private static string FormDecode(string value) => Uri.UnescapeDataString(value.Replace('+', ' '));

    private static string? NullIfEmpty(string? value) => string.IsNullOrEmpty(value) ? null : value;
}
