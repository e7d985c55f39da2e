using System.Text.Json;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Transfers;

/// <summary>
/// The state files beside a <c>.part</c> and a tus source are written and read by hand: a file written by an earlier
/// version (the serializer's web defaults) must still resume, a file written now must read the same with the
/// serializer, and a file that does not hold a whole state is no state (the transfer starts over), never an exception.
/// </summary>
public sealed class TransferStateTests : IDisposable
{
    private static readonly JsonSerializerOptions Web = new(JsonSerializerDefaults.Web) { WriteIndented = true };
    private readonly TempFolder _folder = new();

    public void Dispose() => _folder.Dispose();

    [Theory]
    [InlineData("https://files.example.test/a.bin", "\"v1\"", 3_000_000_000L, "ab12")]
    [InlineData("https://files.example.test/b.bin", "Sun, 29 Nov 2026 04:00:00 GMT", null, null)]
    public async Task A_download_state_written_by_the_serializer_is_read_back_the_same(string url, string validator, long? length, string? sha256)
    {
        var state = new DownloadState(url, validator, length, sha256);
        var path = _folder.File("a.part.json");
        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(state, Web));

        Assert.Equal(state, await TransferState.LoadAsync(path, DownloadState.Read, CancellationToken.None));
    }

    [Theory]
    [InlineData("https://files.example.test/a.bin", "\"v1\"", 3_000_000_000L, "ab12")]
    [InlineData("https://files.example.test/b.bin", "Sun, 29 Nov 2026 04:00:00 GMT", null, null)]
    public async Task A_download_state_saved_now_reads_the_same_with_the_serializer(string url, string validator, long? length, string? sha256)
    {
        var state = new DownloadState(url, validator, length, sha256);
        var path = _folder.File("a.part.json");
        await TransferState.SaveAsync(path, state.Write, CancellationToken.None);

        Assert.Equal(state, JsonSerializer.Deserialize<DownloadState>(await File.ReadAllTextAsync(path), Web));
        Assert.Equal(state, await TransferState.LoadAsync(path, DownloadState.Read, CancellationToken.None));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public async Task An_upload_state_round_trips_with_the_serializer_both_ways()
    {
        var state = new UploadState("https://files.example.test/tus", "https://files.example.test/tus/42", 5_000_000_000,
            new DateTime(2026, 11, 29, 4, 5, 6, 789, DateTimeKind.Utc).AddTicks(1234));
        var path = _folder.File("source.bin.tus");

        await TransferState.SaveAsync(path, state.Write, CancellationToken.None);
        Assert.Equal(state, JsonSerializer.Deserialize<UploadState>(await File.ReadAllTextAsync(path), Web));

        await File.WriteAllTextAsync(path, JsonSerializer.Serialize(state, Web));
        var read = await TransferState.LoadAsync(path, UploadState.Read, CancellationToken.None);
        Assert.Equal(state, read);
        Assert.Equal(DateTimeKind.Utc, read!.SourceWrittenUtc.Kind);
    }

    [Fact]
    public async Task Names_in_any_case_and_a_length_as_a_string_are_read_as_the_serializer_read_them()
    {
        var path = _folder.File("a.part.json");
        await File.WriteAllTextAsync(path, """{ "URL": "https://x.test/a", "Validator": "\"v2\"", "length": "123" }""");

        Assert.Equal(new DownloadState("https://x.test/a", "\"v2\"", 123, null),
            await TransferState.LoadAsync(path, DownloadState.Read, CancellationToken.None));
    }

    [Theory]
    [InlineData("""{ "url": "https://x.test/a", "length": 5 }""")]                          // no validator
    [InlineData("""{ "url": "https://x.test/a", "validator": "\"v\"", "length": "five" }""")] // not a number
    [InlineData("""{ "url": 7, "validator": "\"v\"" }""")]                                    // not a string
    [InlineData("""[ "https://x.test/a" ]""")]                                                 // not an object
    [InlineData("""{ "url": "https://x.test/a", "validator": """)]                             // cut off
    [InlineData("")]
    public async Task A_state_file_that_does_not_hold_a_whole_state_is_no_state(string text)
    {
        var path = _folder.File("a.part.json");
        await File.WriteAllTextAsync(path, text);

        Assert.Null(await TransferState.LoadAsync(path, DownloadState.Read, CancellationToken.None));
    }

    [Fact]
    public async Task A_missing_state_file_is_no_state()
    {
        Assert.Null(await TransferState.LoadAsync(_folder.File("none.part.json"), DownloadState.Read, CancellationToken.None));
    }
}
