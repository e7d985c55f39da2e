using System.Net;
using System.Text;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>
/// What the token endpoint tests share: a scripted answer, and the request read as an OAuth 2.0 authorization server
/// reads it (the form body, the client's Basic header per RFC 6749 §2.3.1).
/// </summary>
internal static class TokenEndpointScript
{
    /// <summary>A step of a <c>ScriptedHandler</c> that answers <paramref name="status"/> with <paramref name="body"/>.</summary>
    public static Func<HttpRequestMessage, CancellationToken, Task<HttpResponseMessage>> Answer(HttpStatusCode status, string body,
        string mediaType = "application/json") =>
        (_, _) => Task.FromResult(new HttpResponseMessage(status) { Content = new StringContent(body, Encoding.UTF8, mediaType) });

    /// <summary>The form as a server reads it: every value of every parameter, in order.</summary>
    public static ILookup<string, string> FormValues(string? body) =>
        (body ?? "").Split('&', StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.Split('=', 2))
            .ToLookup(p => WebUtility.UrlDecode(p[0]), p => WebUtility.UrlDecode(p[1]));

    /// <summary>The form's parameters, each given once (a parameter given twice fails the test).</summary>
    public static Dictionary<string, string> Form(string? body) =>
        FormValues(body).ToDictionary(g => g.Key, g => Assert.Single(g));

    /// <summary>The client id and secret a server reads from a Basic header as RFC 6749 §2.3.1 says: base64, split, form-decode.</summary>
    public static (string Id, string Secret) BasicCredentials(string header)
    {
        Assert.StartsWith("Basic ", header);
        var decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header["Basic ".Length..]));
        var colon = decoded.IndexOf(':');
        Assert.True(colon > 0, decoded);
        return (WebUtility.UrlDecode(decoded[..colon]), WebUtility.UrlDecode(decoded[(colon + 1)..]));
    }
}
