using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Transfers;

/// <summary>
/// The rules of what a download leaves on disk (<see cref="PartialFile"/>), each as the promise a user relies on: bytes of
/// a <c>.part</c> are kept only when its state proves they are the same file, two parts are combined only under a strong
/// validator (RFC 9110 §8.8.1, §13.1.5), the final rename happens only after the digest matched and never replaces a file
/// it was not asked to, and a file that cannot be written is a typed error naming it.
/// </summary>
public sealed class PartialFileTests : IDisposable
{
    private static readonly Uri Url = new("https://files.example.test/data/report.bin");
    private static readonly DateTimeOffset Modified = new(2026, 1, 2, 3, 4, 5, TimeSpan.Zero);
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    private static HttpResponseMessage Response(string? etag = null, DateTimeOffset? lastModified = null, DateTimeOffset? date = null)
    {
        var response = new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent([]) };
        if (etag is not null) response.Headers.ETag = EntityTagHeaderValue.Parse(etag);
        response.Content.Headers.LastModified = lastModified;
        response.Headers.Date = date;
        return response;
    }

    // ---- validators (RFC 9110 §8.8.2.2, §8.8.3, §13.1.5) ---------------------------------------------------------------

    [Fact]
    public void A_Last_Modified_one_second_or_more_before_the_Date_is_a_strong_validator_and_less_is_not()
    {
        Assert.Equal(Modified.ToString("r"), PartialFile.StrongValidator(Response(lastModified: Modified, date: Modified.AddSeconds(1))));
        Assert.Equal(Modified.ToString("r"), PartialFile.StrongValidator(Response(lastModified: Modified, date: Modified.AddMinutes(5))));
        Assert.Null(PartialFile.StrongValidator(Response(lastModified: Modified, date: Modified.AddMilliseconds(999))));
        Assert.Null(PartialFile.StrongValidator(Response(lastModified: Modified, date: Modified)));
        Assert.Null(PartialFile.StrongValidator(Response(lastModified: Modified)));           // no Date: cannot tell
        Assert.Null(PartialFile.StrongValidator(Response(date: Modified)));                    // nothing to validate with
    }

    [Fact]
    public void A_strong_ETag_wins_over_a_date_and_a_weak_one_forbids_falling_back_to_the_date()
    {
        Assert.Equal("\"v1\"", PartialFile.StrongValidator(Response("\"v1\"", Modified, Modified.AddMinutes(5))));
        Assert.Null(PartialFile.StrongValidator(Response("W/\"v1\"", Modified, Modified.AddMinutes(5))));
    }

    [Fact]
    public void Parts_are_combined_only_under_exactly_the_same_strong_validator()
    {
        var state = new DownloadState(Url.AbsoluteUri, "\"v1\"", 10, null);

        Assert.True(PartialFile.CanCombine(state, Response("\"v1\"")));
        Assert.False(PartialFile.CanCombine(state, Response("\"V1\"")));   // ETags compare byte by byte
        Assert.False(PartialFile.CanCombine(state, Response("\"v2\"")));
        Assert.False(PartialFile.CanCombine(state, Response("W/\"v1\"")));
        Assert.False(PartialFile.CanCombine(state, Response()));
        Assert.False(PartialFile.CanCombine(null, Response("\"v1\"")));
    }

    // ---- opening a kept .part -------------------------------------------------------------------------------------------

    private async Task<PartialFile.Opened> OpenKept(byte[] kept, DownloadState? state, Uri? source = null)
    {
        var destination = _folder.File("kept.bin");
        await File.WriteAllBytesAsync(destination + ".part", kept);
        if (state is not null) await TransferState.SaveAsync(destination + ".part.json", state.Write, CancellationToken.None);
        return await PartialFile.OpenAsync(destination, source ?? Url, freeName: false, CancellationToken.None);
    }

    [Fact]
    public async Task The_bytes_of_a_part_are_kept_when_its_state_names_the_same_url_and_a_length_it_does_not_exceed()
    {
        var kept = TempFolder.Bytes(100, 1);
        var state = new DownloadState(Url.AbsoluteUri, "\"v1\"", 100, null);

        var opened = await OpenKept(kept, state);
        await using (opened.File)
        {
            Assert.Equal(100, opened.Offset);
            Assert.Equal(100, opened.File.Position);
            Assert.Equal(state, opened.State);
        }
        Assert.Equal(kept, await File.ReadAllBytesAsync(_folder.File("kept.bin.part")));
    }

    public static TheoryData<string, long?, bool> Untrusted => new()
    {
        { "https://files.example.test/data/other.bin", 100, true }, // another URL
        { Url.AbsoluteUri, 99, true },                               // longer than the file it claims to be part of
        { Url.AbsoluteUri, null, false },                            // no state at all
    };

    [Theory]
    [MemberData(nameof(Untrusted))]
    public async Task A_part_whose_state_does_not_prove_where_its_bytes_came_from_is_emptied(string url, long? length, bool withState)
    {
        var opened = await OpenKept(TempFolder.Bytes(100, 2), withState ? new DownloadState(url, "\"v1\"", length, null) : null);
        await using (opened.File)
        {
            Assert.Equal(0, opened.Offset);
            Assert.Null(opened.State);
            Assert.Equal(0, opened.File.Length);
            Assert.Equal(0, opened.File.Position);
        }
    }

    [Fact]
    public async Task A_part_that_cannot_be_opened_for_writing_is_a_local_io_error_naming_it()
    {
        var destination = _folder.File("blocked.bin");
        Directory.CreateDirectory(destination + ".part");

        var error = await Assert.ThrowsAsync<LocalIoException>(() => PartialFile.OpenAsync(destination, Url, freeName: false, CancellationToken.None));
        Assert.Contains($"'{destination}.part' cannot be opened for writing", error.Message);
    }

    [Fact]
    public async Task In_a_folder_without_overwrite_a_taken_name_file_or_folder_makes_the_part_take_the_next_free_one()
    {
        var destination = _folder.File("x.bin");
        await File.WriteAllTextAsync(destination, "theirs");
        Directory.CreateDirectory(_folder.File("x (1).bin"));

        var opened = await PartialFile.OpenAsync(destination, Url, freeName: true, CancellationToken.None);
        await using (opened.File)
        {
            Assert.Equal(_folder.File("x (2).bin"), opened.Path);
            Assert.Equal(destination, opened.NamedPath);
            Assert.True(File.Exists(_folder.File("x (2).bin.part")));
        }
        Assert.Equal("theirs", await File.ReadAllTextAsync(destination));
    }

    [Fact]
    public async Task With_every_numbered_name_taken_opening_fails_typed_and_names_the_folder_and_the_way_out()
    {
        var destination = _folder.File("x.bin");
        await File.WriteAllTextAsync(destination, "0");
        for (var i = 1; i < SafeFileName.MaxNumberedNames; i++) await File.WriteAllTextAsync(_folder.File($"x ({i}).bin"), "");

        var error = await Assert.ThrowsAsync<TransferDestinationException>(() => PartialFile.OpenAsync(destination, Url, freeName: true, CancellationToken.None));
        Assert.Equal(TransferFailure.DestinationExists, error.Failure);
        Assert.Equal(_folder.Path, error.Path);
        Assert.Equal($"'x.bin' and its {SafeFileName.MaxNumberedNames - 1} numbered alternatives all exist in '{_folder.Path}'; "
                     + "nothing was replaced (DownloadRequest.Overwrite replaces the file).", error.Message);
    }

    // ---- restarting, committing, releasing -----------------------------------------------------------------------------

    [Fact]
    public async Task Starting_a_whole_body_over_empties_the_part_when_asked_and_records_or_forgets_its_state()
    {
        var destination = _folder.File("restart.bin");
        var state = new DownloadState(Url.AbsoluteUri, "\"v2\"", 5, null);
        await using (var file = new FileStream(destination + ".part", FileMode.Create, FileAccess.Write))
        {
            file.Write(TempFolder.Bytes(50, 3));
            await PartialFile.RestartAsync(file, truncate: true, destination, state, CancellationToken.None);
            Assert.Equal(0, file.Length);
            Assert.Equal(0, file.Position);
            Assert.Equal(state, await TransferState.LoadAsync(destination + ".part.json", DownloadState.Read, CancellationToken.None));

            file.Write(TempFolder.Bytes(5, 4));
            await PartialFile.RestartAsync(file, truncate: false, destination, null, CancellationToken.None); // no validator now
            Assert.Equal(5, file.Length);
            Assert.False(File.Exists(destination + ".part.json"));
        }
    }

    private async Task<(FileStream File, string Path, byte[] Content)> WrittenPart(string name, int length = 3000)
    {
        var path = _folder.File(name);
        var content = TempFolder.Bytes(length, 5);
        var file = new FileStream(path + ".part", FileMode.Create, FileAccess.Write, FileShare.Read, 1, useAsync: true);
        await file.WriteAsync(content);
        await TransferState.SaveAsync(path + ".part.json", new DownloadState(Url.AbsoluteUri, "\"v1\"", length, null).Write, CancellationToken.None);
        return (file, path, content);
    }

    [Fact]
    public async Task Without_a_running_hash_a_verified_commit_reads_the_whole_part_back_and_renames_it()
    {
        var (file, path, content) = await WrittenPart("whole.bin");
        var sha = SHA256.HashData(content);

        var outcome = await PartialFile.CommitAsync(file, hash: null, verify: true, path, path, freeName: false, sha, sha, bufferSize: 1024, CancellationToken.None);

        Assert.Equal(new PartialFile.Committed(path, Convert.ToHexStringLower(sha)), outcome);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
        Assert.False(File.Exists(path + ".part"));
        Assert.False(File.Exists(path + ".part.json"));
    }

    [Fact]
    public async Task A_commit_that_does_not_verify_reports_no_sha256_and_replaces_the_named_file()
    {
        var (file, path, content) = await WrittenPart("plain.bin");
        await File.WriteAllTextAsync(path, "an older copy");

        var outcome = await PartialFile.CommitAsync(file, hash: null, verify: false, path, path, freeName: false, null, null, 1024, CancellationToken.None);

        Assert.Equal(new PartialFile.Committed(path, null), outcome);
        Assert.Equal(content, await File.ReadAllBytesAsync(path));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task A_digest_that_does_not_match_names_whose_it_was_and_renames_nothing(bool callers)
    {
        var (file, path, content) = await WrittenPart(callers ? "caller.bin" : "server.bin");
        var wrong = SHA256.HashData("something else"u8);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(content);

        var outcome = await PartialFile.CommitAsync(file, hash, verify: true, path, path, freeName: false,
            callers ? wrong : null, callers ? null : wrong, 1024, CancellationToken.None);

        var mismatch = Assert.IsType<PartialFile.DigestMismatch>(outcome);
        Assert.Equal(callers ? "the expected SHA-256" : "the server's Repr-Digest/Content-Digest", mismatch.Source);
        Assert.Equal(Convert.ToHexStringLower(wrong), mismatch.Expected);
        Assert.Equal(TempFolder.Sha256(content), mismatch.Actual);
        Assert.False(File.Exists(path));
        Assert.Equal(content, await File.ReadAllBytesAsync(path + ".part"));
    }

    [Fact]
    public async Task A_commit_into_a_folder_skips_a_folder_that_took_the_name_meanwhile()
    {
        var (file, path, content) = await WrittenPart("taken.bin");
        Directory.CreateDirectory(path);

        var outcome = await PartialFile.CommitAsync(file, null, verify: false, path, path, freeName: true, null, null, 1024, CancellationToken.None);

        Assert.Equal(new PartialFile.Committed(_folder.File("taken (1).bin"), null), outcome);
        Assert.Equal(content, await File.ReadAllBytesAsync(_folder.File("taken (1).bin")));
        Assert.True(Directory.Exists(path));
    }

    [Fact]
    public async Task A_rename_that_fails_is_a_local_io_error_and_the_part_stays()
    {
        var (file, path, _) = await WrittenPart("blocked.bin");
        Directory.CreateDirectory(path);
        await File.WriteAllTextAsync(Path.Combine(path, "inside"), "a folder that is not empty cannot be replaced by a file");

        var error = await Assert.ThrowsAsync<LocalIoException>(() =>
            PartialFile.CommitAsync(file, null, verify: false, path, path, freeName: false, null, null, 1024, CancellationToken.None));

        Assert.StartsWith($"'{path}.part' cannot be moved to '{path}'", error.Message);
        Assert.True(File.Exists(path + ".part"));
    }

    [Fact]
    public async Task Releasing_closes_the_part_and_removes_it_with_its_state_only_when_asked()
    {
        var (file, path, content) = await WrittenPart("release.bin");
        await PartialFile.ReleaseAsync(file, path, remove: false);
        Assert.Equal(content, await File.ReadAllBytesAsync(path + ".part")); // closed: readable whole
        Assert.True(File.Exists(path + ".part.json"));

        await PartialFile.ReleaseAsync(null, path, remove: true);
        Assert.False(File.Exists(path + ".part"));
        Assert.False(File.Exists(path + ".part.json"));
    }

    [Fact]
    public async Task Reading_back_a_part_that_is_gone_is_a_local_io_error_naming_it()
    {
        var path = _folder.File("gone.bin");
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);

        var error = await Assert.ThrowsAsync<LocalIoException>(() => PartialFile.HashPrefixOfPartAsync(path, 10, hash, 1024, CancellationToken.None));
        Assert.StartsWith($"'{path}.part' cannot be read back to hash it", error.Message);
    }
}
