using System.Text.Json;
using Courier.Host.Cli;
using Courier.Sandbox;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>The command-line program run in-process against the Sandbox server, as a batch user runs it.</summary>
[Collection(nameof(ConsoleCapture))] // these tests redirect Console: they must not run beside each other
public sealed class CliTests : IAsyncLifetime
{
    private SandboxServer _sandbox = null!;
    private DirectoryInfo _folder = null!;

    public async Task InitializeAsync()
    {
        _sandbox = await SandboxServer.StartAsync();
        _folder = Directory.CreateTempSubdirectory("courier-cli-");
    }

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    private string[] AuthArgs()
    {
        var (access, refresh, _) = _sandbox.Auth.IssueTokens();
        return ["--access-token", access, "--refresh-token", refresh, "--refresh-url", new Uri(_sandbox.BaseAddress, "/auth/refresh").ToString()];
    }

    /// <summary>Writes a batch of protected calls; every 97th fails once with 503, every 89th is cut once mid-response,
    /// and the line in the middle makes the server expire every access token.</summary>
    private string WriteBatch(int lines, string key, int latencyMs = 0)
    {
        var path = PathOf("input.jsonl");
        using var writer = new StreamWriter(path);
        for (var i = 0; i < lines; i++)
        {
            if (i == lines / 2)
            {
                writer.WriteLine(JsonSerializer.Serialize(new { id = "expire", method = "POST", url = new Uri(_sandbox.BaseAddress, "/_sandbox/auth/expire") }));
                continue;
            }
            var headers = new Dictionary<string, string> { [SandboxHeaders.Key] = $"{key}-{i}" };
            if (i % 97 == 0) headers[SandboxHeaders.FailFirst] = "1";
            if (i % 89 == 0) headers[SandboxHeaders.AbortFirst] = "1";
            if (latencyMs > 0) headers[SandboxHeaders.LatencyMs] = latencyMs.ToString();
            writer.WriteLine(JsonSerializer.Serialize(new { id = $"call-{i}", url = new Uri(_sandbox.BaseAddress, $"/secure/items/{i}"), headers }));
        }
        return path;
    }

    private static List<JsonElement> ReadResults(string path) =>
        File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    [Fact]
    public async Task A_10000_line_batch_with_faults_and_a_mid_run_expiry_answers_every_line_with_one_refresh()
    {
        var input = WriteBatch(10_000, "big");
        var output = PathOf("results.jsonl");

        var exit = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--concurrency", "64", .. AuthArgs()]);

        Assert.Equal(ExitCodes.Success, exit.Code);
        var results = ReadResults(output);
        Assert.Equal(10_000, results.Count);
        Assert.Equal(10_000, results.Select(r => r.GetProperty("id").GetString()).Distinct().Count());
        Assert.All(results, r => Assert.InRange(r.GetProperty("status").GetInt32(), 200, 299));
        Assert.Contains(results, r => r.GetProperty("attempts").GetInt32() >= 2);
        Assert.Equal(1, _sandbox.Auth.RefreshesPerformed);
        Assert.Equal(0, _sandbox.Auth.ReuseEvents);

        // A rerun with --resume sends nothing.
        var before = _sandbox.Counters.Keys.Sum(k => _sandbox.Counters.For(k).Requests);
        var rerun = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--resume", .. AuthArgs()]);
        Assert.Equal(ExitCodes.Success, rerun.Code);
        Assert.Equal(before, _sandbox.Counters.Keys.Sum(k => _sandbox.Counters.For(k).Requests));
        Assert.Equal(10_000, ReadResults(output).Count);
    }

    [Fact]
    public async Task A_batch_cancelled_half_way_and_resumed_answers_each_id_exactly_once()
    {
        var input = WriteBatch(3000, "cut", latencyMs: 2);
        var output = PathOf("results.jsonl");
        using var cts = new CancellationTokenSource();
        var auth = AuthArgs();

        var run = ConsoleCapture.RunAsync(["batch", input, "--out", output, "--concurrency", "32", .. auth], cts.Token);
        while (!run.IsCompleted && _sandbox.Counters.Keys.Count(k => k.StartsWith("cut-")) < 1000) await Task.Delay(10);
        cts.Cancel();
        var first = await run;

        Assert.Equal(ExitCodes.Cancelled, first.Code);
        var partial = ReadResults(output).Count;
        Assert.InRange(partial, 900, 2999);

        var second = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--resume", .. auth]);
        Assert.Equal(ExitCodes.Success, second.Code);
        var ids = ReadResults(output).Select(r => r.GetProperty("id").GetString()).ToList();
        Assert.Equal(3000, ids.Count);
        Assert.Equal(3000, ids.Distinct().Count());
    }

    [Fact]
    public async Task Malformed_lines_are_answered_with_their_line_number_and_the_batch_goes_on()
    {
        var input = PathOf("input.jsonl");
        await File.WriteAllLinesAsync(input,
        [
            JsonSerializer.Serialize(new { id = "a", url = new Uri(_sandbox.BaseAddress, "/api/a") }),
            "this is not json",
            JsonSerializer.Serialize(new { id = "b" }),
            JsonSerializer.Serialize(new { id = "c", method = "GET", url = "ftp://example.com/x" }),
            JsonSerializer.Serialize(new { id = "d", url = new Uri(_sandbox.BaseAddress, "/api/d") }),
        ]);
        var output = PathOf("results.jsonl");

        var exit = await ConsoleCapture.RunAsync(["batch", input, "--out", output]);

        Assert.Equal(ExitCodes.SomeFailed, exit.Code);
        var results = ReadResults(output).ToDictionary(r => r.GetProperty("line").GetInt32());
        Assert.Equal(5, results.Count);
        Assert.Equal(200, results[1].GetProperty("status").GetInt32());
        Assert.Equal(200, results[5].GetProperty("status").GetInt32());
        foreach (var (line, what) in new[] { (2, "not valid JSON"), (3, "missing \"url\""), (4, "http or https") })
        {
            var error = results[line].GetProperty("error");
            Assert.Equal("MalformedLine", error.GetProperty("type").GetString());
            Assert.Contains($"line {line}:", error.GetProperty("message").GetString());
            Assert.Contains(what, error.GetProperty("message").GetString());
        }
    }

    [Fact]
    public async Task Exit_codes_tell_usage_errors_failures_and_authentication_failures_apart()
    {
        var missing = await ConsoleCapture.RunAsync(["batch", PathOf("nope.jsonl"), "--out", PathOf("out.jsonl")]);
        Assert.Equal(ExitCodes.Usage, missing.Code);
        Assert.Contains("does not exist", missing.Error);
        Assert.DoesNotContain("   at ", missing.Error); // no stack trace

        var unknown = await ConsoleCapture.RunAsync(["request", "GET", "http://127.0.0.1/", "--no-such-option"]);
        Assert.Equal(ExitCodes.Usage, unknown.Code);

        var badUrl = await ConsoleCapture.RunAsync(["request", "GET", "not-a-url"]);
        Assert.Equal(ExitCodes.Usage, badUrl.Code);
        Assert.Contains("not an absolute http(s) URL", badUrl.Error);

        var notFound = await ConsoleCapture.RunAsync(["request", "GET", new Uri(_sandbox.BaseAddress, "/api/x").ToString(), "-H", $"{SandboxHeaders.FailFirst}: 1", "-H", $"{SandboxHeaders.FaultStatus}: 404", "-H", $"{SandboxHeaders.Key}: nf"]);
        Assert.Equal(ExitCodes.SomeFailed, notFound.Code);
        Assert.Contains("404", notFound.Error);

        // A refresh token the server does not know: the refresh is refused for good.
        _sandbox.Auth.ExpireAccessTokens();
        var auth = await ConsoleCapture.RunAsync(["request", "GET", new Uri(_sandbox.BaseAddress, "/secure/x").ToString(),
            "--access-token", "expired-token", "--refresh-token", "unknown-refresh-token", "--refresh-url", new Uri(_sandbox.BaseAddress, "/auth/refresh").ToString()]);
        Assert.Equal(ExitCodes.AuthenticationFailed, auth.Code);
        Assert.Contains("authentication failed", auth.Error);
        Assert.DoesNotContain("unknown-refresh-token", auth.Error + auth.Output); // secrets are never echoed
        Assert.DoesNotContain("expired-token", auth.Error + auth.Output);
    }

    [Fact]
    public async Task Request_prints_the_body_on_stdout_and_the_status_and_retries_on_stderr_in_plain_text()
    {
        var url = new Uri(_sandbox.BaseAddress, "/api/hello?secret=s3cr3t").ToString();

        var result = await ConsoleCapture.RunAsync(["request", "POST", url, "-d", "{\"a\":1}", "-H", $"{SandboxHeaders.FailFirst}: 1",
            "-H", $"{SandboxHeaders.Key}: req-plain", "-H", "Idempotency-Key: k1"]);

        Assert.Equal(ExitCodes.Success, result.Code);
        var echo = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal("POST", echo.GetProperty("method").GetString());
        Assert.Equal("{\"a\":1}", echo.GetProperty("body").GetString());
        Assert.Contains("application/json", echo.GetProperty("headers").GetProperty("Content-Type").GetString());
        Assert.Contains("retry POST", result.Error);
        Assert.Contains("200 OK after 2 attempt(s)", result.Error);
        Assert.DoesNotContain("s3cr3t", result.Error);
        Assert.DoesNotContain("\u001b[", result.Output + result.Error); // no ANSI escapes when not on a terminal
    }
}
