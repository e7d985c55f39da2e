using Courier.Host.Cli;
using Courier.Sandbox;
using Xunit;

namespace Courier.Tests.Cli;

[Collection(nameof(ConsoleCapture))] // redirects Console
public sealed class TraceCommandTests : IAsyncLifetime
{
    private SandboxServer _sandbox = null!;

    public async Task InitializeAsync() => _sandbox = await SandboxServer.StartAsync();

    public async Task DisposeAsync() => await _sandbox.DisposeAsync();

    [Fact]
    public async Task Request_trace_prints_the_attempts_retries_token_wait_and_refresh_as_a_timeline_without_secrets()
    {
        var (access, refresh, _) = _sandbox.Auth.IssueTokens();
        _sandbox.Auth.ExpireAccessTokens(); // the first attempts carry a refused token: one refresh
        var url = new Uri(_sandbox.BaseAddress, "/secure/traced?secret=s3cr3t").ToString();

        var result = await ConsoleCapture.RunAsync(["request", "GET", url, "--trace", "-H", $"{SandboxHeaders.FailFirst}: 2",
            "-H", $"{SandboxHeaders.FaultStatus}: 503", "-H", $"{SandboxHeaders.Key}: traced",
            "--access-token", access, "--refresh-token", refresh, "--refresh-url", new Uri(_sandbox.BaseAddress, "/auth/refresh").ToString()]);

        Assert.Equal(ExitCodes.Success, result.Code);
        var timeline = result.Error[result.Error.IndexOf("trace ", StringComparison.Ordinal)..];
        Assert.Contains("call GET", timeline);
        Assert.Contains("secret=***", timeline);
        Assert.Contains("attempt 1", timeline);
        Assert.Contains("→ 503", timeline);
        Assert.Contains("retry 1 in", timeline);
        Assert.Contains("retry 2 in", timeline);
        Assert.Contains("token wait (rejected)", timeline);
        Assert.Contains("token refresh (rejected) → refreshed", timeline);
        Assert.Contains("→ 200", timeline);
        Assert.DoesNotContain("s3cr3t", result.Error);
        Assert.DoesNotContain(access, result.Error);
        Assert.DoesNotContain(refresh, result.Error);
    }
}
