using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using Courier.Requests;

namespace Courier.Tests.Requests;

/// <summary>
/// What each failure of an attempt means for the call: is it worth another attempt, and may the request already have
/// reached the server (then only a call that may be repeated is retried)? Nothing sent: retried for any method.
/// </summary>
public sealed class ErrorClassificationTests
{
    // The exceptions stay out of the theory's data (xunit cannot serialize them, and then runs every row as one test that
    // Stryker does not see cover Classify): each row is named, and the name picks its case.
    private static readonly Dictionary<string, (Exception Error, bool Retryable, bool ReachedServer, string Reason)> All = new()
    {
        ["connection refused before sending"] = (new HttpRequestException(HttpRequestError.ConnectionError, "refused"), true, false, "connection failed"),
        ["DNS failure"] = (new HttpRequestException(HttpRequestError.NameResolutionError, "no such host"), true, false, "name resolution failed"),
        ["TLS handshake"] = (new HttpRequestException(HttpRequestError.SecureConnectionError, "bad cert"), false, false, "TLS handshake failed"),
        ["proxy tunnel refused"] = (new HttpRequestException(HttpRequestError.ProxyTunnelError, "407"), false, false, "the proxy refused the tunnel"),
        ["server credentials"] = (new HttpRequestException(HttpRequestError.UserAuthenticationError, "auth"), false, false, "UserAuthenticationError"),
        ["response headers too large"] = (new HttpRequestException(HttpRequestError.ConfigurationLimitExceeded, "limit"), false, false, "ConfigurationLimitExceeded"),
        ["HTTP version refused"] = (new HttpRequestException(HttpRequestError.VersionNegotiationError, "h2"), false, false, "VersionNegotiationError"),
        ["extended CONNECT"] = (new HttpRequestException(HttpRequestError.ExtendedConnectNotSupported, "ws"), false, false, "ExtendedConnectNotSupported"),
        ["response cut off"] = (new HttpRequestException(HttpRequestError.ResponseEnded, "ended"), true, true, "the response ended early"),
        ["garbage response"] = (new HttpRequestException(HttpRequestError.InvalidResponse, "garbage"), true, true, "invalid response"),
        ["TLS inside a generic error"] = (new HttpRequestException("send failed", new AuthenticationException("cert")), false, false, "TLS handshake failed"),
        ["407 inside a generic error"] = (new HttpRequestException("proxy", null, HttpStatusCode.ProxyAuthenticationRequired), false, false, "proxy authentication required"),
        ["generic error"] = (new HttpRequestException("send failed", new IOException("reset")), true, true, "connection lost"),
        ["TLS exception alone"] = (new AuthenticationException("cert"), false, false, "TLS handshake failed"),
        ["socket refused"] = (new SocketException((int)SocketError.ConnectionRefused), true, false, "connection refused"),
        ["socket reset"] = (new SocketException((int)SocketError.ConnectionReset), true, true, "connection lost"),
        ["stream broken"] = (new IOException("broken pipe"), true, true, "connection lost"),
        ["bad request object"] = (new InvalidOperationException("no"), false, false, "invalid request"),
        ["bad argument"] = (new ArgumentException("no"), false, false, "invalid request"),
        ["bad URL"] = (new UriFormatException("no"), false, false, "invalid request"),
        ["unsupported"] = (new NotSupportedException("no"), false, false, "invalid request"),
        ["anything else"] = (new DivideByZeroException(), false, true, "DivideByZeroException"),
    };

    public static TheoryData<string> Cases => new(All.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Each_failure_says_whether_to_retry_and_whether_the_server_may_have_seen_the_request(string name)
    {
        var (error, retryable, reachedServer, reason) = All[name];
        var (isRetryable, mayHaveReached, why) = RequestActor.Classify(error);
        Assert.True(retryable == isRetryable, $"{name}: retryable");
        Assert.True(reachedServer == mayHaveReached, $"{name}: reached the server");
        Assert.Equal(reason, why);
    }
}
