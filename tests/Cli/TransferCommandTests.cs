using System.Net;
using System.Text.Json;
using Courier.Host.Cli;
using Courier.Sandbox;
using Courier.Tests.Transfers;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary><c>upload</c> and <c>download</c> run in-process against the Sandbox's file endpoints, as a user runs them.</summary>
[Collection(nameof(ConsoleCapture))] // these tests redirect Console: they must not run beside each other
public sealed class TransferCommandTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly TempFolder _folder = new();
    private readonly string _key = "cli" + Guid.NewGuid().ToString("N")[..10];
    private SandboxServer _sandbox = null!;
    private HttpClient _http = null!;

    public async Task InitializeAsync()
    {
        _sandbox = await SandboxServer.StartAsync();
        _http = new HttpClient { BaseAddress = _sandbox.BaseAddress };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _sandbox.DisposeAsync();
        _folder.Dispose();
    }

    private string Url(string relative) => new Uri(_sandbox.BaseAddress, $"/files/{_key}/{relative}").ToString();

    /// <summary>Places a generated file on the server; returns its SHA-256.</summary>
    private async Task<string> PutAsync(string name, int length, int seed)
    {
        var bytes = TempFolder.Bytes(length, seed);
        using var response = await _http.PutAsync($"/files/{_key}/{name}", new ByteArrayContent(bytes));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return TempFolder.Sha256(bytes);
    }

    private async Task<JsonElement> InfoAsync(string name) =>
        JsonDocument.Parse(await _http.GetStringAsync($"/files/{_key}/{name}/info")).RootElement;

    private async Task<long> ServedAsync(string name) => (await InfoAsync(name)).GetProperty("servedBytes").GetInt64();

    private static void AssertOneLine(string text) => Assert.Single(text.Split('\n', StringSplitOptions.RemoveEmptyEntries));

    // The CLI as a user runs it: a process of its own, where Program.Main turns inline socket completions on for
    // `download` (ProcessTuning): the pump's blocks then run on the socket engine's thread. The cut, the kept .part and
    // the resume with a range behave as in-process, and the bytes are right.
    [Fact]
    public async Task The_download_command_as_a_process_with_inline_socket_completions_resumes_a_cut_download_to_the_right_bytes()
    {
        var sha = await PutAsync("proc.bin", 6 * MiB, seed: 7);
        var destination = _folder.File("proc.bin");
        string[] command = ["download", Url("proc.bin"), destination, "--retries", "0", "-H", $"X-Fault-Cut-After: {2 * MiB}"];

        await using (var first = CliProcess.Start(command))
        {
            Assert.Equal(ExitCodes.SomeFailed, await first.WaitAsync(TimeSpan.FromMinutes(2)));
            Assert.Contains("is kept: run the same command again to resume", first.Error);
        }
        Assert.False(File.Exists(destination));
        var kept = new FileInfo(destination + ".part").Length;
        Assert.InRange(kept, 1, 2 * MiB);

        await using var second = CliProcess.Start(command);
        Assert.Equal(ExitCodes.Success, await second.WaitAsync(TimeSpan.FromMinutes(2)));
        Assert.Contains("resuming", second.Error);
        Assert.Equal(sha, TempFolder.Sha256File(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public async Task A_download_cut_with_no_retries_keeps_the_part_and_the_same_command_resumes_it_with_a_range()
    {
        var sha = await PutAsync("cut.bin", 4 * MiB, seed: 1);
        var destination = _folder.File("cut.bin");
        string[] command = ["download", Url("cut.bin"), destination, "--retries", "0", "-H", $"X-Fault-Cut-After: {MiB}"];

        var first = await ConsoleCapture.RunAsync(command);

        Assert.Equal(ExitCodes.SomeFailed, first.Code);
        Assert.Contains("is kept: run the same command again to resume", first.Error);
        Assert.DoesNotContain("   at ", first.Error);
        Assert.False(File.Exists(destination));
        var kept = new FileInfo(destination + ".part").Length;
        Assert.InRange(kept, 1, MiB);
        var servedBefore = await ServedAsync("cut.bin");

        var second = await ConsoleCapture.RunAsync(command); // the server cuts only the first response of the key

        Assert.Equal(ExitCodes.Success, second.Code);
        Assert.Contains("resuming", second.Error);
        Assert.Contains(sha, second.Output);
        Assert.Equal(sha, TempFolder.Sha256File(destination));
        Assert.Equal(4L * MiB - kept, await ServedAsync("cut.bin") - servedBefore); // only the rest was sent again
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public async Task A_cancelled_download_exits_130_keeps_the_part_and_the_same_command_resumes_it()
    {
        var sha = await PutAsync("slow.bin", 4 * MiB, seed: 2);
        var destination = _folder.File("slow.bin");
        using var cancel = new CancellationTokenSource();
        var firstLine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

        // Slowed down by the server; cancelled (as Ctrl+C would) once the first progress line says bytes arrived.
        var run = ConsoleCapture.RunAsync(["download", Url("slow.bin"), destination, "-H", "X-Fault-Delay-Per-Block-Ms: 10"], cancel.Token,
            error => { if (error.Contains("download slow.bin: ")) firstLine.TrySetResult(); });
        await Task.WhenAny(firstLine.Task, run);
        cancel.Cancel();
        var first = await run;

        Assert.Equal(ExitCodes.Cancelled, first.Code);
        Assert.Contains($"'{destination}.part' is kept; run the same command again to resume.", first.Error);
        Assert.False(File.Exists(destination));
        var kept = new FileInfo(destination + ".part").Length;
        Assert.InRange(kept, 1, 4L * MiB - 1);
        var servedBefore = await ServedAsync("slow.bin");

        var second = await ConsoleCapture.RunAsync(["download", Url("slow.bin"), destination]);

        Assert.Equal(ExitCodes.Success, second.Code);
        Assert.Equal(sha, TempFolder.Sha256File(destination));
        Assert.Equal(4L * MiB - kept, await ServedAsync("slow.bin") - servedBefore);
    }

    [Fact]
    public async Task Multipart_and_tus_uploads_succeed_and_report_the_sha256()
    {
        var (source, sha) = _folder.CreateFile("report.bin", 3 * MiB, seed: 3);

        var multipart = await ConsoleCapture.RunAsync(["upload", source, Url("multipart?field=document"), "--field-name", "document",
            "--field", "album=holidays", "-F", "note=a=b", "--json", "--show-sha256"]);

        Assert.Equal(ExitCodes.Success, multipart.Code);
        var summary = JsonDocument.Parse(multipart.Output).RootElement;
        Assert.Equal(sha, summary.GetProperty("sha256").GetString());
        Assert.Equal(3L * MiB, summary.GetProperty("bytes").GetInt64());
        var answer = JsonDocument.Parse(summary.GetProperty("response").GetString()!).RootElement;
        Assert.Equal(sha, answer.GetProperty("sha256").GetString());
        Assert.Equal("holidays", answer.GetProperty("fields").GetProperty("album").GetString());
        Assert.Equal("a=b", answer.GetProperty("fields").GetProperty("note").GetString());

        var tus = await ConsoleCapture.RunAsync(["upload", source, Url("tus"), "--tus", "--show-sha256"]);

        Assert.Equal(ExitCodes.Success, tus.Code);
        Assert.Contains($"sha-256 {sha}", tus.Output);
        Assert.Contains(Url("tus/"), tus.Output); // the upload URL
        Assert.Equal(sha, (await InfoAsync("report.bin")).GetProperty("sha256").GetString());
        Assert.False(File.Exists(source + ".tus"));
    }

    [Fact]
    public async Task A_failed_tus_upload_keeps_its_state_and_the_same_command_resumes_it()
    {
        var (source, sha) = _folder.CreateFile("video.bin", 3 * MiB, seed: 4);
        // A server without creation-with-upload: every chunk is a PATCH (1 MiB, then 2 MiB: the 2nd fails).
        string[] command = ["upload", source, Url("tus"), "--tus", "--retries", "0", "-H", "X-Fault-Fail-Chunk: 2", "-H", "X-Fault-Tus-Extensions: creation", "--json", "--show-sha256"];

        var first = await ConsoleCapture.RunAsync(command);

        Assert.Equal(ExitCodes.SomeFailed, first.Code);
        Assert.Contains($"'{source}.tus' is kept: run the same command again to resume", first.Error);
        AssertOneLine(first.Error);
        var uploadUrl = JsonDocument.Parse(await File.ReadAllTextAsync(source + ".tus")).RootElement.GetProperty("uploadUrl").GetString();

        var second = await ConsoleCapture.RunAsync(command); // only the 2nd PATCH of the key fails

        Assert.Equal(ExitCodes.Success, second.Code);
        var summary = JsonDocument.Parse(second.Output).RootElement;
        Assert.Equal(uploadUrl, summary.GetProperty("location").GetString());
        Assert.Equal(sha, summary.GetProperty("sha256").GetString());
        Assert.Equal(sha, (await InfoAsync("video.bin")).GetProperty("sha256").GetString());
    }

    [Fact]
    public async Task Usage_errors_exit_2_with_one_line_and_a_refused_login_exits_3()
    {
        var missing = await ConsoleCapture.RunAsync(["upload", _folder.File("nope.bin"), Url("tus"), "--tus"]);
        Assert.Equal(ExitCodes.Usage, missing.Code);
        Assert.Contains("does not exist", missing.Error);
        AssertOneLine(missing.Error);
        Assert.Equal("", missing.Output);

        var noFolder = await ConsoleCapture.RunAsync(["download", Url("x.bin"), _folder.File("no-such-folder/x.bin")]);
        Assert.Equal(ExitCodes.Usage, noFolder.Code);
        Assert.Contains("does not exist", noFolder.Error);
        AssertOneLine(noFolder.Error);

        var badSha = await ConsoleCapture.RunAsync(["download", Url("x.bin"), _folder.File("x.bin"), "--sha256", "abc"]);
        Assert.Equal(ExitCodes.Usage, badSha.Code);
        AssertOneLine(badSha.Error);

        await PutAsync("secret.bin", 1000, seed: 5);
        _sandbox.Auth.ExpireAccessTokens();
        var refused = await ConsoleCapture.RunAsync(["download", new Uri(_sandbox.BaseAddress, $"/protected-files/{_key}/secret.bin").ToString(),
            _folder.File("secret.bin"), "--access-token", "expired-token", "--refresh-token", "unknown-refresh-token",
            "--refresh-url", new Uri(_sandbox.BaseAddress, "/auth/refresh").ToString()]);
        Assert.Equal(ExitCodes.AuthenticationFailed, refused.Code);
        Assert.DoesNotContain("unknown-refresh-token", refused.Error + refused.Output);
        Assert.DoesNotContain("   at ", refused.Error);
    }

    [Fact]
    public async Task A_sha256_mismatch_exits_1_and_leaves_no_file_under_the_final_name()
    {
        await PutAsync("data.bin", MiB, seed: 6);
        var destination = _folder.File("data.bin");

        var result = await ConsoleCapture.RunAsync(["download", Url("data.bin"), destination, "--sha256", new string('0', 64)]);

        Assert.Equal(ExitCodes.SomeFailed, result.Code);
        Assert.Contains("SHA-256", result.Error);
        Assert.DoesNotContain("is kept", result.Error);
        Assert.False(File.Exists(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public async Task Off_a_terminal_progress_is_plain_lines_without_ANSI_escapes()
    {
        var sha = await PutAsync("plain.bin", 2 * MiB, seed: 7);
        var destination = _folder.File("plain.bin");

        var result = await ConsoleCapture.RunAsync(["download", Url("plain.bin"), destination, "--sha256", sha.ToUpperInvariant()]);

        Assert.Equal(ExitCodes.Success, result.Code);
        var lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(lines.Length, 1, 11); // one per 10 % at most, on a run this fast
        Assert.All(lines, l => Assert.StartsWith("download plain.bin: ", l));
        Assert.Contains("2.0 MiB / 2.0 MiB (100 %)", lines[^1]);
        Assert.DoesNotContain("\u001b[", result.Output + result.Error);
        Assert.StartsWith("Downloaded 2.0 MiB to ", result.Output);
    }

    [Fact]
    public async Task A_download_with_nothing_to_verify_hashes_only_when_asked()
    {
        var sha = await PutAsync("unverified.bin", 1 * MiB, seed: 12);
        string[] download = ["download", Url("unverified.bin"), _folder.File("unverified.bin"), "--json", "--overwrite", "-H", "X-Fault-No-Digest: 1"];

        var plain = await ConsoleCapture.RunAsync(download);
        var asked = await ConsoleCapture.RunAsync([.. download, "--show-sha256"]);

        Assert.Equal(ExitCodes.Success, plain.Code);
        Assert.Equal(JsonValueKind.Null, JsonDocument.Parse(plain.Output).RootElement.GetProperty("sha256").ValueKind);
        Assert.Equal(ExitCodes.Success, asked.Code);
        Assert.Equal(sha, JsonDocument.Parse(asked.Output).RootElement.GetProperty("sha256").GetString());
        Assert.Equal(sha, TempFolder.Sha256File(_folder.File("unverified.bin")));
    }

    [Fact]
    public async Task A_download_into_a_folder_takes_the_servers_name_and_json_prints_one_object()
    {
        var sha = await PutAsync("server-name.bin", 100_000, seed: 8);
        var folder = _folder.Folder("inbox");
        var disposition = Uri.EscapeDataString("attachment; filename=\"quarterly report.pdf\"");

        var result = await ConsoleCapture.RunAsync(["download", Url($"server-name.bin?disposition={disposition}"), folder, "--json"]);

        Assert.Equal(ExitCodes.Success, result.Code);
        var summary = JsonDocument.Parse(result.Output).RootElement;
        Assert.Equal(Path.Combine(folder, "quarterly report.pdf"), summary.GetProperty("path").GetString());
        Assert.Equal(100_000, summary.GetProperty("bytes").GetInt64());
        Assert.Equal(sha, summary.GetProperty("sha256").GetString());
        Assert.True(summary.GetProperty("durationMs").GetDouble() > 0);
        Assert.Equal(JsonValueKind.Null, summary.GetProperty("location").ValueKind);
        Assert.Equal("", result.Error); // --json: no progress lines
    }

    [Fact]
    public async Task A_download_into_a_folder_keeps_an_existing_file_unless_overwrite_is_given()
    {
        var sha = await PutAsync("again.bin", 50_000, seed: 9);
        var folder = _folder.Folder("again");
        File.WriteAllText(Path.Combine(folder, "again.bin"), "mine");

        var kept = await ConsoleCapture.RunAsync(["download", Url("again.bin"), folder, "--json"]);

        Assert.Equal(ExitCodes.Success, kept.Code);
        Assert.Equal(Path.Combine(folder, "again (1).bin"), JsonDocument.Parse(kept.Output).RootElement.GetProperty("path").GetString());
        Assert.Equal("mine", File.ReadAllText(Path.Combine(folder, "again.bin")));

        var replaced = await ConsoleCapture.RunAsync(["download", Url("again.bin"), folder, "--json", "--overwrite"]);

        Assert.Equal(ExitCodes.Success, replaced.Code);
        Assert.Equal(Path.Combine(folder, "again.bin"), JsonDocument.Parse(replaced.Output).RootElement.GetProperty("path").GetString());
        Assert.Equal(sha, TempFolder.Sha256File(Path.Combine(folder, "again.bin")));
    }
}
