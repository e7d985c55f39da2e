using System.Text;
using System.Text.Json;
using Courier.Host.Cli;
using Courier.Sandbox;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>The batch command's results and options, run in-process against the Sandbox.</summary>
[Collection(nameof(ConsoleCapture))]
public sealed class BatchCommandTests : IAsyncLifetime
{
    private SandboxServer _sandbox = null!;
    private DirectoryInfo _folder = null!;

    public async Task InitializeAsync()
    {
        _sandbox = await SandboxServer.StartAsync();
        _folder = Directory.CreateTempSubdirectory("courier-batch-");
    }

    public async Task DisposeAsync()
    {
        await _sandbox.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private string PathOf(string name) => Path.Combine(_folder.FullName, name);

    private string Line(string id, string key, string method = "GET", Dictionary<string, string>? headers = null, string path = "/api/x")
    {
        var all = new Dictionary<string, string>(headers ?? []) { [SandboxHeaders.Key] = key };
        return JsonSerializer.Serialize(new { id, method, url = new Uri(_sandbox.BaseAddress, path), headers = all, body = method == "GET" ? null : new { id } });
    }

    private static List<JsonElement> ReadResults(string path) =>
        File.ReadLines(path).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();

    // The key format is a promise across builds: a batch resumed by a later version must send the keys its first run sent
    // (base64url, unpadded, of SHA-256(identity + "\n" + id); the values computed independently, with Python's hashlib).
    [Fact]
    public async Task The_idempotency_key_of_a_line_is_the_same_as_every_earlier_build_made_it()
    {
        await using var journal = await Courier.Host.Batch.BatchJournal.OpenAsync(PathOf("keys.jsonl"), continues: false, "batch-1", CancellationToken.None);
        Assert.Equal("QPLON7YnDNI6WO4_60z8Gq4Bho5xI98m5FdXKe0dt5Y", journal.IdempotencyKey("line-7"));
        Assert.Equal("qJCd5eN9Auiu2erOKgI2IW45nAYLKJRlYvGy8cWU0x0", journal.IdempotencyKey("zo\u00eb-\u6771\u4eac"));
        Assert.Equal("TzBvbMPqG8xURyshTLP_zZ-BCCXIGxTXolbgi6HlfPU", journal.IdempotencyKey(new string('x', 2000))); // past the stack buffer
    }

    [Fact]
    public async Task An_id_that_appears_twice_is_sent_and_answered_once_and_the_second_line_names_the_duplicate()
    {
        var input = PathOf("in.jsonl");
        await File.WriteAllLinesAsync(input, [Line("a", "dup-a1"), Line("b", "dup-b"), Line("a", "dup-a2")]);
        var output = PathOf("out.jsonl");

        var run = await ConsoleCapture.RunAsync(["batch", input, "--out", output]);

        Assert.Equal(ExitCodes.SomeFailed, run.Code);
        Assert.Equal(1, _sandbox.Counters.For("dup-a1").Requests);
        Assert.Equal(0, _sandbox.Counters.For("dup-a2").Requests);
        var results = ReadResults(output);
        Assert.Equal(3, results.Count);
        Assert.Single(results, r => r.GetProperty("id").ValueKind == JsonValueKind.String && r.GetProperty("id").GetString() == "a");
        var duplicate = Assert.Single(results, r => r.GetProperty("line").GetInt32() == 3);
        Assert.Equal(JsonValueKind.Null, duplicate.GetProperty("id").ValueKind);
        Assert.Equal("a", duplicate.GetProperty("duplicateOf").GetString());
        Assert.Equal("DuplicateId", duplicate.GetProperty("error").GetProperty("type").GetString());
        Assert.Contains("'a' already appears on line 1", duplicate.GetProperty("error").GetProperty("message").GetString());
        Assert.Contains("duplicate id  1", run.Error);

        // A resumed run neither sends nor reports it again.
        var rerun = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--resume"]);
        Assert.Equal(ExitCodes.Success, rerun.Code);
        Assert.Equal(3, ReadResults(output).Count);
    }

    [Fact]
    public async Task POST_lines_get_a_stable_derived_Idempotency_Key_unless_they_have_one_or_keys_are_off()
    {
        var input = PathOf("in.jsonl");
        await File.WriteAllLinesAsync(input,
        [
            Line("p1", "k-p1", "POST"), Line("p2", "k-p2", "PATCH"), Line("g", "k-g"),
            Line("own", "k-own", "POST", new() { ["Idempotency-Key"] = "mine" }),
        ]);

        string? KeyOf(JsonElement result) => result.GetProperty("body").GetProperty("headers").TryGetProperty("Idempotency-Key", out var k) ? k.GetString() : null;

        var first = await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("a.jsonl"), "--batch-id", "orders-2026-01"]);
        Assert.Equal(ExitCodes.Success, first.Code);
        var a = ReadResults(PathOf("a.jsonl")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Matches("^[A-Za-z0-9_-]{43}$", KeyOf(a["p1"]));
        Assert.NotEqual(KeyOf(a["p1"]), KeyOf(a["p2"]));
        Assert.Null(KeyOf(a["g"]));
        Assert.Equal("mine", KeyOf(a["own"]));

        // The key derives from the batch identity and the id: the same identity gives the same keys.
        var second = await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("b.jsonl"), "--batch-id", "orders-2026-01"]);
        Assert.Equal(ExitCodes.Success, second.Code);
        var b = ReadResults(PathOf("b.jsonl")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Equal(KeyOf(a["p1"]), KeyOf(b["p1"]));

        var off = await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("c.jsonl"), "--no-idempotency-keys"]);
        Assert.Equal(ExitCodes.Success, off.Code);
        var c = ReadResults(PathOf("c.jsonl")).ToDictionary(r => r.GetProperty("id").GetString()!);
        Assert.Null(KeyOf(c["p1"]));
        Assert.Equal("mine", KeyOf(c["own"]));
    }

    [Fact]
    public async Task A_JSON_body_is_a_JSON_value_in_the_result_and_base64_on_request()
    {
        var input = PathOf("in.jsonl");
        await File.WriteAllLinesAsync(input, [Line("j", "json-1")]);

        Assert.Equal(ExitCodes.Success, (await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("json.jsonl")])).Code);
        var body = Assert.Single(ReadResults(PathOf("json.jsonl"))).GetProperty("body");
        Assert.Equal(JsonValueKind.Object, body.ValueKind);
        Assert.Equal("GET", body.GetProperty("method").GetString());

        Assert.Equal(ExitCodes.Success, (await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("b64.jsonl"), "--body-base64"])).Code);
        var result = Assert.Single(ReadResults(PathOf("b64.jsonl")));
        Assert.False(result.TryGetProperty("body", out _));
        var decoded = JsonDocument.Parse(Encoding.UTF8.GetString(result.GetProperty("bodyBase64").GetBytesFromBase64())).RootElement;
        Assert.Equal("GET", decoded.GetProperty("method").GetString());
    }

    // Issue 10: --verbose shows every retry with its reason as it happens, and the failure summary still comes once, at
    // the end, after all of them (the printer is an actor: the summary waits for it).
    [Fact]
    public async Task Verbose_shows_every_retry_and_the_failure_summary_comes_after_them()
    {
        var input = PathOf("in.jsonl");
        var twice503 = new Dictionary<string, string> { [SandboxHeaders.FailFirst] = "2", [SandboxHeaders.FaultStatus] = "503" };
        var always503 = new Dictionary<string, string> { [SandboxHeaders.FailFirst] = "9", [SandboxHeaders.FaultStatus] = "503" };
        await File.WriteAllLinesAsync(input, [Line("ok", "vb-ok"), Line("r2", "vb-r2", headers: twice503), Line("f", "vb-f", headers: always503)]);

        var run = await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("out.jsonl"), "--retries", "2", "--verbose"]);

        Assert.Equal(ExitCodes.SomeFailed, run.Code);
        var lines = run.Error.Split('\n');
        var retries = lines.Select((l, i) => (l, i)).Where(x => x.l.Contains("retry ", StringComparison.Ordinal) && x.l.Contains("/2)", StringComparison.Ordinal)).ToList();
        Assert.Equal(4, retries.Count); // r2: retries 1 and 2 (then it succeeds); f: retries 1 and 2 (then it fails)
        Assert.All(retries, r => Assert.Contains("503", r.l));
        var summary = Array.FindIndex(lines, l => l.Contains("failures by reason", StringComparison.Ordinal));
        Assert.True(summary > retries.Max(r => r.i), run.Error);
        Assert.Contains("status 503  1", run.Error);
        Assert.Single(lines, l => l.Contains("failures by reason", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Failures_are_summarised_by_reason_and_retry_failed_reruns_only_them_appending_the_latest_result()
    {
        var input = PathOf("in.jsonl");
        var fail503 = new Dictionary<string, string> { [SandboxHeaders.FailFirst] = "1", [SandboxHeaders.FaultStatus] = "503" };
        var fail404 = new Dictionary<string, string> { [SandboxHeaders.FailFirst] = "1", [SandboxHeaders.FaultStatus] = "404" };
        await File.WriteAllLinesAsync(input,
        [
            Line("ok", "rf-ok"), Line("s1", "rf-s1", headers: fail503), Line("s2", "rf-s2", headers: fail503), Line("nf", "rf-nf", headers: fail404),
        ]);
        var output = PathOf("out.jsonl");

        var first = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--retries", "0"]);

        Assert.Equal(ExitCodes.SomeFailed, first.Code);
        Assert.Contains("failures by reason", first.Error);
        Assert.Contains("status 503  2", first.Error);
        Assert.Contains("status 404  1", first.Error);
        Assert.DoesNotContain("GET http", first.Error); // no line per failed call
        var failed = ReadResults(output).Single(r => r.GetProperty("id").GetString() == "s1");
        Assert.Equal("status 503", failed.GetProperty("error").GetProperty("reason").GetString());

        var retry = await ConsoleCapture.RunAsync(["batch", input, "--out", output, "--retry-failed", "--retries", "0", "--json"]);

        Assert.Equal(ExitCodes.Success, retry.Code);
        Assert.Equal(1, _sandbox.Counters.For("rf-ok").Requests); // not rerun
        Assert.Equal(2, _sandbox.Counters.For("rf-s1").Requests);
        var results = ReadResults(output);
        Assert.Equal(7, results.Count); // 4 + 3 appended
        var latest = results.GroupBy(r => r.GetProperty("id").GetString()).ToDictionary(g => g.Key!, g => g.Last());
        Assert.All(latest.Values, r => Assert.Equal(200, r.GetProperty("status").GetInt32()));
        Assert.Equal(3, JsonDocument.Parse(retry.Output).RootElement.GetProperty("succeeded").GetInt32());
    }

    [Theory]
    [InlineData("fast")]
    [InlineData("0/s")]
    [InlineData("200/fortnight")]
    public async Task A_bad_rate_is_a_usage_error_naming_the_option(string rate)
    {
        var input = PathOf("in.jsonl");
        await File.WriteAllLinesAsync(input, [Line("a", "rate-a")]);

        var run = await ConsoleCapture.RunAsync(["batch", input, "--out", PathOf("out.jsonl"), "--rate", rate]);

        Assert.Equal(ExitCodes.Usage, run.Code);
        Assert.Contains($"--rate '{rate}' is not a rate", run.Error);
        Assert.Equal(0, _sandbox.Counters.For("rate-a").Requests);
    }
}
