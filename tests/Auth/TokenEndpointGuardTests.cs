using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>Refresh tokens never travel in clear text to another machine unless the user says so.</summary>
public sealed class TokenEndpointGuardTests
{
    [Theory]
    [InlineData("https://login.example.com/oauth2/token")]
    [InlineData("http://127.0.0.1:5000/auth/refresh")]
    [InlineData("http://localhost:5000/auth/refresh")]
    [InlineData("http://[::1]:5000/auth/refresh")]
    public void Https_and_loopback_endpoints_are_accepted(string url) =>
        Assert.Equal(new Uri(url), TokenEndpointGuard.Validate(new Uri(url), allowInsecureHttp: false));

    [Fact]
    public void A_plain_http_endpoint_elsewhere_is_refused_with_a_clear_error()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            TokenEndpointGuard.Validate(new Uri("http://login.example.com/token?client_secret=s3cr3t"), allowInsecureHttp: false));
        Assert.Contains("plain http", error.Message);
        Assert.Contains("AllowInsecureHttp", error.Message);
        Assert.DoesNotContain("s3cr3t", error.Message);
    }

    [Fact]
    public void Plain_http_is_allowed_when_the_user_says_so() =>
        Assert.NotNull(TokenEndpointGuard.Validate(new Uri("http://tokens.internal/token"), allowInsecureHttp: true));

    [Theory]
    [InlineData("ftp://login.example.com/token")]
    [InlineData("/relative/token")]
    public void Other_schemes_and_relative_urls_are_refused(string url) =>
        Assert.Throws<ArgumentException>(() => TokenEndpointGuard.Validate(new Uri(url, UriKind.RelativeOrAbsolute), allowInsecureHttp: true));

    [Fact]
    public void Each_refusal_says_what_is_wrong_with_the_endpoint()
    {
        Assert.Equal("endpoint", Assert.Throws<ArgumentNullException>(() => TokenEndpointGuard.Validate(null!, allowInsecureHttp: true)).ParamName);
        Assert.Contains("'/relative/token' must be an absolute URL",
            Assert.Throws<ArgumentException>(() => TokenEndpointGuard.Validate(new Uri("/relative/token", UriKind.Relative), allowInsecureHttp: true)).Message);
        Assert.Contains("must be an http(s) URL, not 'ftp:'",
            Assert.Throws<ArgumentException>(() => TokenEndpointGuard.Validate(new Uri("ftp://login.example.com/token"), allowInsecureHttp: true)).Message);
    }

    [Fact]
    public void Options_validation_applies_the_guard()
    {
        var options = new TokenOptions { RefreshEndpoint = new Uri("http://login.example.com/token") };
        Assert.Throws<ArgumentException>(options.Validate);
        options.AllowInsecureHttp = true;
        options.Validate();
    }
}
