using Courier.Tests.Support;
using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Akka.Actor;
using Courier.Sandbox;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Transfers;

/// <summary>
/// Transfers over loopback against the real Sandbox server: cut connections, resumes across runtime instances, changed
/// files, hostile names, cancellation and token expiry mid-transfer. Every test has its own server, key and temp folder.
/// </summary>
public sealed class TransferIntegrationTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly TempFolder _folder = new();
    private SandboxServer _server = null!;
    private HttpClient _http = null!;
    private readonly string _key = "k" + Guid.NewGuid().ToString("N")[..10];

    public async Task InitializeAsync()
    {
        _server = await SandboxServer.StartAsync();
        _http = new HttpClient { BaseAddress = _server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
    }

    public async Task DisposeAsync()
    {
        _http.Dispose();
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    private Uri Url(string relative) => new(_server.BaseAddress, relative);

    /// <summary>Places a generated file on the server under /files/{key}/{name}; returns the local copy's SHA-256.</summary>
    private async Task<string> PutAsync(string name, long length, int seed)
    {
        var (path, sha) = _folder.CreateFile("server-" + name + "-" + seed, length, seed);
        await using var stream = File.OpenRead(path);
        using var response = await _http.PutAsync($"/files/{_key}/{name}", new StreamContent(stream));
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        File.Delete(path);
        return sha;
    }

    private async Task<JsonElement> InfoAsync(string name) =>
        JsonDocument.Parse(await _http.GetStringAsync($"/files/{_key}/{name}/info")).RootElement;

    private static KeyValuePair<string, string> H(string name, string value) => new(name, value);

    [Fact]
    public async Task A_50_MiB_download_survives_three_cut_connections_and_matches_the_sha256()
    {
        var sha = await PutAsync("big.bin", 50L * MiB, seed: 1);
        await using var runtime = LoopbackRuntime.Start();
        var retries = Collect<TransferRetryScheduled>(runtime.System);
        var progress = new ProgressLog();
        var destination = _folder.File("big.bin");

        var completed = await runtime.Client.DownloadAsync(DownloadRequest.ToFile(Url($"/files/{_key}/big.bin"), destination) with
        {
            Headers = [H("X-Fault-Cut-After", (10 * MiB).ToString()), H("X-Fault-Cut-First", "3")],
        }, progress);

        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(sha, TempFolder.Sha256File(destination));
        Assert.Equal(50L * MiB, completed.Bytes);
        // Each of the first three responses was cut after at most 10 MiB; each resume started where the .part ended.
        var offsets = retries.Select(r => r.Offset).ToArray();
        Assert.Equal(3, offsets.Length);
        Assert.All(offsets.Prepend(0).Zip(offsets), p => Assert.InRange(p.Second - p.First, 1, 10L * MiB));
        // The server sent 10 MiB in each cut response, then only the rest from the last .part end: nothing twice but the cut-off tails.
        Assert.Equal(30L * MiB + 50L * MiB - offsets[^1], (await InfoAsync("big.bin")).GetProperty("servedBytes").GetInt64());
        Assert.True(progress.IsMonotonic());
        Assert.Equal(50L * MiB, progress.Last!.BytesTransferred);
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public async Task A_download_without_a_digest_is_not_hashed_and_resumes_after_cuts_to_the_same_bytes()
    {
        var sha = await PutAsync("nodigest.bin", 20L * MiB, seed: 21);
        await using var runtime = LoopbackRuntime.Start();
        var retries = Collect<TransferRetryScheduled>(runtime.System);
        var destination = _folder.File("nodigest.bin");

        var completed = await runtime.Client.DownloadAsync(DownloadRequest.ToFile(Url($"/files/{_key}/nodigest.bin"), destination) with
        {
            Headers = [H("X-Fault-No-Digest", "1"), H("X-Fault-Cut-After", (6 * MiB).ToString()), H("X-Fault-Cut-First", "2")],
        });

        Assert.Null(completed.Sha256); // no Repr-Digest, no expected hash, not asked for
        Assert.Equal(2, retries.Count);
        Assert.Equal(20L * MiB, completed.Bytes);
        Assert.Equal(sha, TempFolder.Sha256File(destination));
    }

    [Fact]
    public async Task A_tus_upload_sends_its_first_chunk_with_the_creation_and_a_cut_creation_starts_a_new_upload()
    {
        var (source, sha) = _folder.CreateFile("first.bin", 6L * MiB, seed: 22);
        await using var runtime = LoopbackRuntime.Start();
        var retries = Collect<TransferRetryScheduled>(runtime.System);

        // The Sandbox advertises creation-with-upload; the first request that carries a body (the POST) is cut.
        var completed = await runtime.Client.UploadAsync(UploadRequest.Tus(Url($"/files/{_key}/tus"), source) with
        {
            Headers = [H("X-Fault-Cut-After", (MiB / 2).ToString())],
        });

        Assert.Single(retries);
        Assert.Null(completed.Sha256);
        Assert.NotNull(completed.Location);
        var info = await InfoAsync("first.bin");
        Assert.Equal(sha, info.GetProperty("sha256").GetString());
        Assert.Equal(6L * MiB, info.GetProperty("length").GetInt64());
        Assert.False(File.Exists(source + ".tus"));
    }

    [Fact]
    public async Task A_50_MiB_tus_upload_survives_three_cut_connections_and_the_server_has_the_same_sha256()
    {
        var (source, sha) = _folder.CreateFile("video.bin", 50L * MiB, seed: 2);
        await using var runtime = LoopbackRuntime.Start(o => o.Transfers.ChunkSize = 4 * MiB);
        var retries = Collect<TransferRetryScheduled>(runtime.System);
        var progress = new ProgressLog();

        var completed = await runtime.Client.UploadAsync(UploadRequest.Tus(Url($"/files/{_key}/tus"), source) with
        {
            // Without creation-with-upload, so that the cuts hit PATCHes (resumed from the server's offset).
            Headers = [H("X-Fault-Cut-After", (3 * MiB / 2).ToString()), H("X-Fault-Cut-First", "3"), H("X-Fault-Tus-Extensions", "creation")],
            ComputeSha256 = true,
        }, progress);

        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(sha, (await InfoAsync("video.bin")).GetProperty("sha256").GetString());
        Assert.Equal(3, retries.Count);
        Assert.NotNull(completed.Location);
        Assert.True(progress.IsMonotonic());
        Assert.Equal(50L * MiB, progress.Last!.BytesAcknowledged);
        Assert.False(File.Exists(source + ".tus"));
    }

    [Fact]
    public async Task A_50_MiB_multipart_upload_restarts_after_each_cut_and_the_server_reports_the_same_sha256()
    {
        var (source, sha) = _folder.CreateFile("archive.zip", 50L * MiB, seed: 3);
        await using var runtime = LoopbackRuntime.Start();
        var retries = Collect<TransferRetryScheduled>(runtime.System);
        var progress = new ProgressLog();

        var completed = await runtime.Client.UploadAsync(UploadRequest.Multipart(Url($"/files/{_key}/multipart"), source) with
        {
            Fields = [H("description", "quarterly")],
            Headers = [H("X-Fault-Cut-After", (4 * MiB).ToString()), H("X-Fault-Cut-First", "3")],
            ComputeSha256 = true,
        }, progress);

        Assert.Equal(sha, completed.Sha256);
        var answer = JsonDocument.Parse(completed.ResponseBody!).RootElement;
        Assert.Equal(sha, answer.GetProperty("sha256").GetString());
        Assert.Equal("quarterly", answer.GetProperty("fields").GetProperty("description").GetString());
        Assert.Equal(3, retries.Count);
        Assert.True(progress.IsMonotonic());
    }

    [Fact]
    public async Task A_part_left_by_an_earlier_runtime_is_resumed_with_a_range()
    {
        var sha = await PutAsync("doc.bin", 8L * MiB, seed: 4);
        var url = Url($"/files/{_key}/doc.bin");
        var destination = _folder.File("doc.bin");
        await CancelMidwayAsync(url, destination, atLeast: 2L * MiB);
        var kept = new FileInfo(destination + ".part").Length;
        Assert.True(kept >= 2L * MiB);

        await using var second = LoopbackRuntime.Start();
        var progress = new ProgressLog();
        var completed = await second.Client.DownloadAsync(DownloadRequest.ToFile(url, destination), progress);

        Assert.Equal(sha, completed.Sha256);
        Assert.True(progress.First!.BytesTransferred > kept, $"restarted from zero: first progress {progress.First.BytesTransferred}, kept {kept}");
        Assert.False(File.Exists(destination + ".part"));
        Assert.False(File.Exists(destination + ".part.json"));
    }

    [Fact]
    public async Task A_file_changed_on_the_server_restarts_cleanly()
    {
        await PutAsync("data.bin", 8L * MiB, seed: 5);
        var url = Url($"/files/{_key}/data.bin");
        var destination = _folder.File("data.bin");
        await CancelMidwayAsync(url, destination, atLeast: 2L * MiB);
        var newSha = await PutAsync("data.bin", 6L * MiB, seed: 6); // a new ETag and Last-Modified

        await using var second = LoopbackRuntime.Start();
        var completed = await second.Client.DownloadAsync(DownloadRequest.ToFile(url, destination));

        Assert.Equal(newSha, completed.Sha256);
        Assert.Equal(6L * MiB, new FileInfo(destination).Length);
        Assert.Equal(newSha, TempFolder.Sha256File(destination));
    }

    [Fact]
    public async Task A_server_that_ignores_If_Range_never_gets_a_changed_file_spliced_onto_the_part()
    {
        // Issue 9 item 11: the server answers the resume with a 206 of the new version and no digest.
        await PutAsync("moved.bin", 8L * MiB, seed: 11);
        var url = Url($"/files/{_key}/moved.bin");
        var destination = _folder.File("moved.bin");
        await CancelMidwayAsync(url, destination, atLeast: 2L * MiB, H("X-Fault-No-Digest", "1"));
        var newSha = await PutAsync("moved.bin", 6L * MiB, seed: 12);

        await using var second = LoopbackRuntime.Start();
        var completed = await second.Client.DownloadAsync(DownloadRequest.ToFile(url, destination) with
        {
            Headers = [H("X-Fault-Ignore-If-Range", "1"), H("X-Fault-No-Digest", "1")],
            ComputeSha256 = true,
        });

        Assert.Equal(newSha, completed.Sha256);
        Assert.Equal(newSha, TempFolder.Sha256File(destination));
        Assert.False(File.Exists(destination + ".part"));
    }

    [Fact]
    public async Task A_name_of_150_CJK_characters_is_cut_to_the_byte_limit_and_keeps_its_extension()
    {
        // Issue 9 item 12: 454 bytes of UTF-8 used to fail with PathTooLongException.
        var sha = await PutAsync("cjk.bin", 10_000, seed: 13);
        var cjk = string.Concat(Enumerable.Repeat("報告書", 50));
        var disposition = "attachment; filename*=UTF-8''" + Uri.EscapeDataString(cjk + ".pdf");
        var folder = _folder.Folder("cjk");
        await using var runtime = LoopbackRuntime.Start();

        var completed = await runtime.Client.DownloadAsync(
            DownloadRequest.ToFolder(Url($"/files/{_key}/cjk.bin?disposition={Uri.EscapeDataString(disposition)}"), folder));

        Assert.Equal(sha, completed.Sha256);
        var name = Path.GetFileName(completed.Path);
        Assert.EndsWith(".pdf", name);
        Assert.StartsWith(name[..^4], cjk);
        Assert.True(System.Text.Encoding.UTF8.GetByteCount(name) <= SafeFileName.MaxBytes);
        Assert.Equal([completed.Path], Directory.GetFileSystemEntries(folder));
    }

    [Theory]
    [InlineData("report.pdf", "report (1).pdf")]
    [InlineData(".profile", ".profile (1)")]
    public async Task A_download_into_a_folder_never_replaces_an_existing_file_unless_asked(string name, string freeName)
    {
        // Issue 9 item 13: an existing file (dotfiles included) keeps its content; the download gets the next free name.
        var sha = await PutAsync("named.bin", 5000, seed: 14);
        var folder = _folder.Folder("existing");
        var existing = Path.Combine(folder, name);
        File.WriteAllText(existing, "mine");
        var url = Url($"/files/{_key}/named.bin?disposition={Uri.EscapeDataString($"attachment; filename=\"{name}\"")}");
        await using var runtime = LoopbackRuntime.Start();

        var kept = await runtime.Client.DownloadAsync(DownloadRequest.ToFolder(url, folder));

        Assert.Equal(Path.Combine(folder, freeName), kept.Path);
        Assert.Equal(sha, TempFolder.Sha256File(kept.Path));
        Assert.Equal("mine", File.ReadAllText(existing));

        var replaced = await runtime.Client.DownloadAsync(DownloadRequest.ToFolder(url, folder) with { Overwrite = true });

        Assert.Equal(existing, replaced.Path);
        Assert.Equal(sha, TempFolder.Sha256File(existing));
        Assert.Equal(2, Directory.GetFiles(folder).Length);
    }

    [Theory]
    [InlineData("attachment; filename=\"../../x\"", "x")]
    [InlineData("attachment; filename=\"/etc/passwd\"", "passwd")]
    [InlineData("attachment; filename=\"C:\\x\"", "x")]
    [InlineData("attachment; filename*=UTF-8''..%2F..%2Fy", "y")]
    [InlineData("attachment; filename*=UTF-8''a%0Ab%07c.txt", "a_b_c.txt")]
    [InlineData("attachment; filename=\"..\"", "download")]
    [InlineData("attachment; filename=\"CON\"", "_CON")]
    [InlineData("attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt", "€.txt")]
    public async Task A_hostile_content_disposition_never_escapes_the_folder(string disposition, string expectedName)
    {
        var sha = await PutAsync("evil.bin", 1000, seed: 7);
        var root = _folder.Folder("root");
        var inside = Directory.CreateDirectory(Path.Combine(root, "downloads")).FullName;
        await using var runtime = LoopbackRuntime.Start();

        var completed = await runtime.Client.DownloadAsync(
            DownloadRequest.ToFolder(Url($"/files/{_key}/evil.bin?disposition={Uri.EscapeDataString(disposition)}"), inside));

        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(inside, Path.GetDirectoryName(completed.Path));
        Assert.Equal(expectedName, Path.GetFileName(completed.Path));
        Assert.Equal([inside], Directory.GetFileSystemEntries(root));
        Assert.Equal([completed.Path], Directory.GetFileSystemEntries(inside));
    }

    [Fact]
    public async Task Cancellation_leaves_no_file_under_the_final_name_and_keeps_the_part()
    {
        await PutAsync("slow.bin", 8L * MiB, seed: 8);
        var destination = _folder.File("slow.bin");
        await using var runtime = LoopbackRuntime.Start();
        using var cancel = new CancellationTokenSource();
        var progress = new ProgressLog(p => { if (p.BytesTransferred >= MiB) cancel.Cancel(); });

        var error = await Assert.ThrowsAsync<TransferCanceledException>(() => runtime.Client.DownloadAsync(
            DownloadRequest.ToFile(Url($"/files/{_key}/slow.bin"), destination) with { Headers = [H("X-Fault-Delay-Per-Block-Ms", "5")] },
            progress, cancel.Token));

        Assert.Equal(destination + ".part", error.PartialPath);
        Assert.False(File.Exists(destination));
        Assert.True(new FileInfo(destination + ".part").Length >= MiB);
    }

    [Fact]
    public async Task A_401_mid_transfer_goes_through_the_TokenActor_and_the_download_resumes_from_its_offset()
    {
        var sha = await PutAsync("secret.bin", 6L * MiB, seed: 9); // the open and protected routes share the store
        var (access, refresh, _) = _server.Auth.IssueTokens();
        await using var runtime = LoopbackRuntime.Start(o =>
        {
            o.Transfers.ChunkSize = 64 * 1024; // the first progress (which expires the token) comes long before the cut
            o.Auth = new Courier.Auth.TokenOptions
            {
                RefreshEndpoint = Url("/auth/refresh"),
                AccessToken = access,
                RefreshToken = refresh,
                AllowInsecureHttp = true,
            };
        });
        var retries = Collect<TransferRetryScheduled>(runtime.System);
        var expired = 0;
        var progress = new ProgressLog(_ => { if (Interlocked.Exchange(ref expired, 1) == 0) _server.Auth.ExpireAccessTokens(); });

        var completed = await runtime.Client.DownloadAsync(DownloadRequest.ToFile(Url($"/protected-files/{_key}/secret.bin"), _folder.File("secret.bin")) with
        {
            Headers = [H("X-Fault-Cut-After", (2 * MiB).ToString())],
        }, progress);

        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(1, _server.Auth.RefreshesPerformed);
        var offset = Assert.Single(retries).Offset;
        Assert.InRange(offset, 64 * 1024, 2L * MiB);
        // 2 MiB before the cut, then the rest from the .part's end (a restart after the 401 would have sent 6 MiB more).
        Assert.Equal(2L * MiB + 6L * MiB - offset, (await InfoAsync("secret.bin")).GetProperty("servedBytes").GetInt64());
    }

    [Fact]
    public async Task A_tus_upload_resumes_in_a_new_runtime_from_the_state_kept_beside_the_source()
    {
        var (source, sha) = _folder.CreateFile("resumable.bin", 5L * MiB, seed: 10);
        var endpoint = Url($"/files/{_key}/tus");
        await using (var first = LoopbackRuntime.Start(o =>
                     {
                         o.Transfers.MaxRetriesPerChunk = 0;
                         o.Transfers.MaxChunkSize = o.Transfers.ChunkSize; // 1 MiB PATCHes: the third fails at 2 MiB
                     }))
        {
            var error = await Assert.ThrowsAsync<TransferException>(() => first.Client.UploadAsync(
                UploadRequest.Tus(endpoint, source) with { Headers = [H("X-Fault-Fail-Chunk", "3"), H("X-Fault-Tus-Extensions", "creation")] }));
            Assert.Equal(TransferFailure.Http, error.Failure);
        }
        Assert.True(File.Exists(source + ".tus"));
        var state = JsonDocument.Parse(await File.ReadAllTextAsync(source + ".tus")).RootElement.GetProperty("uploadUrl").GetString();

        await using var second = LoopbackRuntime.Start();
        var progress = new ProgressLog();
        var completed = await second.Client.UploadAsync(UploadRequest.Tus(endpoint, source) with { ComputeSha256 = true }, progress);

        Assert.Equal(sha, completed.Sha256);
        Assert.Equal(state, completed.Location!.AbsoluteUri);
        Assert.Equal(2L * MiB, progress.All.First(p => p.BytesAcknowledged > 0).BytesAcknowledged); // HEAD: the two chunks the first runtime sent
        Assert.Equal(sha, (await InfoAsync("resumable.bin")).GetProperty("sha256").GetString());
        Assert.False(File.Exists(source + ".tus"));
    }

    [Fact]
    public async Task Uploads_fail_with_typed_errors_and_never_touch_the_source()
    {
        var (source, sha) = _folder.CreateFile("form.bin", 5000, seed: 11);
        await using var runtime = LoopbackRuntime.Start();

        var tooLarge = await Assert.ThrowsAsync<TransferRejectedException>(() => runtime.Client.UploadAsync(
            UploadRequest.Multipart(Url($"/files/{_key}/multipart"), source) with { Headers = [H("X-Upload-Limit", "1000")] }));
        Assert.Equal(TransferFailure.PayloadTooLarge, tooLarge.Failure);

        var tusTooLarge = await Assert.ThrowsAsync<TransferRejectedException>(() => runtime.Client.UploadAsync(
            UploadRequest.Tus(Url($"/files/{_key}/tus"), source) with { Headers = [H("X-Upload-Limit", "1000")] }));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tusTooLarge.StatusCode);

        var lying = await Assert.ThrowsAsync<TransferIntegrityException>(() => runtime.Client.UploadAsync(
            UploadRequest.Tus(Url($"/files/{_key}/tus"), source) with { Headers = [H("X-Fault-Lie-Offset", "7")] }));
        Assert.Equal(TransferFailure.LengthMismatch, lying.Failure);

        var missing = await Assert.ThrowsAsync<TransferSourceException>(() => runtime.Client.UploadAsync(
            UploadRequest.Multipart(Url($"/files/{_key}/multipart"), _folder.File("nope.bin"))));
        Assert.Equal(TransferFailure.SourceMissing, missing.Failure);

        var folder = await Assert.ThrowsAsync<TransferDestinationException>(() => runtime.Client.DownloadAsync(
            DownloadRequest.ToFolder(Url($"/files/{_key}/form.bin"), _folder.File("no-such-folder"))));
        Assert.Equal(TransferFailure.DestinationFolderMissing, folder.Failure);

        Assert.Equal(sha, TempFolder.Sha256File(source));
    }

    /// <summary>Starts a slowed-down download in its own runtime and cancels it once <paramref name="atLeast"/> bytes are in the .part.</summary>
    private async Task CancelMidwayAsync(Uri url, string destination, long atLeast, params KeyValuePair<string, string>[] headers)
    {
        await using var runtime = LoopbackRuntime.Start();
        using var cancel = new CancellationTokenSource();
        var progress = new ProgressLog(p => { if (p.BytesTransferred >= atLeast) cancel.Cancel(); });
        await Assert.ThrowsAsync<TransferCanceledException>(() => runtime.Client.DownloadAsync(
            DownloadRequest.ToFile(url, destination) with { Headers = [H("X-Fault-Delay-Per-Block-Ms", "2"), .. headers] }, progress, cancel.Token));
        Assert.False(File.Exists(destination));
    }

    /// <summary>Collects the events of type <typeparamref name="T"/> published on <paramref name="system"/>'s event stream.</summary>
    private static ConcurrentQueue<T> Collect<T>(ActorSystem system)
    {
        var queue = new ConcurrentQueue<T>();
        var collector = system.ActorOf(Props.Create(() => new Collector<T>(queue)));
        system.EventStream.Subscribe(collector, typeof(T));
        return queue;
    }

    private sealed class Collector<T> : ReceiveActor
    {
        public Collector(ConcurrentQueue<T> queue) => Receive<T>(queue.Enqueue);
    }

    /// <summary>An <see cref="IProgress{T}"/> that records synchronously (no synchronization context involved).</summary>
    private sealed class ProgressLog(Action<TransferProgress>? onReport = null) : IProgress<TransferProgress>
    {
        private readonly ConcurrentQueue<TransferProgress> _all = new();

        public IEnumerable<TransferProgress> All => _all;

        public TransferProgress? First => _all.TryPeek(out var first) ? first : null;

        public TransferProgress? Last => _all.LastOrDefault();

        public bool IsMonotonic() => _all.Zip(_all.Skip(1)).All(p => p.Second.BytesTransferred >= p.First.BytesTransferred && p.Second.BytesAcknowledged >= p.First.BytesAcknowledged);

        public void Report(TransferProgress value)
        {
            _all.Enqueue(value);
            onReport?.Invoke(value);
        }
    }
}
