using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>
/// What a store that cannot be used says: a typed <see cref="TokenStoreException"/> naming the file and the problem,
/// never a token; a failed save leaves the previous credentials and no temporary file; the in-memory store forgets.
/// </summary>
public sealed class TokenStoreFailureTests : IDisposable
{
    private const string Secret = "s3cr3t-access-token";

    private readonly string _folder = Directory.CreateTempSubdirectory("courier-store-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    private string FilePath => Path.Combine(_folder, "tokens.json");

    [Fact]
    public void A_store_in_a_folder_that_does_not_exist_is_refused_at_once_naming_the_folder()
    {
        var missing = Path.Combine(_folder, "nope");
        var error = Assert.Throws<TokenStoreException>(() => new FileTokenStore(Path.Combine(missing, "tokens.json")));
        Assert.Contains(missing, error.Message);
        Assert.Contains("does not exist", error.Message);
    }

    [Fact]
    public async Task A_missing_file_means_no_credentials_yet()
    {
        Assert.Null(await new FileTokenStore(FilePath).LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_file_that_is_not_JSON_is_a_typed_error_that_does_not_quote_it()
    {
        await File.WriteAllTextAsync(FilePath, "{\"accessToken\": \"" + Secret + "\", oops");
        var error = await Assert.ThrowsAsync<TokenStoreException>(() => new FileTokenStore(FilePath).LoadAsync(CancellationToken.None));
        Assert.Contains(FilePath, error.Message);
        Assert.Contains("not valid JSON", error.Message);
        Assert.DoesNotContain(Secret, error.Message);
    }

    [Theory]
    [InlineData("{\"version\": 2, \"accessToken\": \"" + Secret + "\"}")]
    [InlineData("{\"version\": 1, \"accessToken\": \"\"}")]
    [InlineData("{\"version\": 1}")]
    [InlineData("null")]
    public async Task A_file_in_another_format_or_without_an_access_token_is_a_typed_error(string content)
    {
        await File.WriteAllTextAsync(FilePath, content);
        var error = await Assert.ThrowsAsync<TokenStoreException>(() => new FileTokenStore(FilePath).LoadAsync(CancellationToken.None));
        Assert.Contains("expected format (version 1)", error.Message);
        Assert.DoesNotContain(Secret, error.Message);
    }

    [Fact]
    public async Task A_pair_without_refresh_token_or_expiry_round_trips()
    {
        var store = new FileTokenStore(FilePath);
        await store.SaveAsync(new TokenPair("access-only", null), CancellationToken.None);
        Assert.Equal(new TokenPair("access-only", null), await store.LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_save_that_cannot_be_written_is_a_typed_error_and_leaves_the_previous_credentials_and_no_temporary_file()
    {
        var store = new FileTokenStore(FilePath);
        await store.SaveAsync(new TokenPair("access-1", "refresh-1"), CancellationToken.None);
        // The rename over the target fails: the target is now a non-empty folder.
        var blocked = new FileTokenStore(Path.Combine(_folder, "blocked"));
        Directory.CreateDirectory(blocked.Path);
        await File.WriteAllTextAsync(Path.Combine(blocked.Path, "keep"), "x");

        var error = await Assert.ThrowsAsync<TokenStoreException>(() => blocked.SaveAsync(new TokenPair(Secret, "refresh-2"), CancellationToken.None));
        Assert.Contains("cannot be written", error.Message);
        Assert.Contains(blocked.Path, error.Message);
        Assert.DoesNotContain(Secret, error.Message);
        Assert.Equal(new[] { "tokens.json" }, Directory.GetFiles(_folder).Select(Path.GetFileName));
        Assert.Equal(new TokenPair("access-1", "refresh-1"), await store.LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_cancelled_save_leaves_no_temporary_file()
    {
        var store = new FileTokenStore(FilePath);
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => store.SaveAsync(new TokenPair("a", "r"), cancelled.Token));
        Assert.Empty(Directory.GetFiles(_folder));
    }

    [Fact]
    public async Task Clearing_a_store_that_holds_nothing_is_fine()
    {
        var store = new FileTokenStore(FilePath);
        await store.ClearAsync(CancellationToken.None);
        Assert.Null(await store.LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task The_in_memory_store_holds_the_last_pair_saved_until_cleared()
    {
        var store = new InMemoryTokenStore(new TokenPair("initial", "r0"));
        Assert.Equal(new TokenPair("initial", "r0"), await store.LoadAsync(CancellationToken.None));
        await store.SaveAsync(new TokenPair("next", "r1"), CancellationToken.None);
        Assert.Equal(new TokenPair("next", "r1"), await store.LoadAsync(CancellationToken.None));
        await store.ClearAsync(CancellationToken.None);
        Assert.Null(await store.LoadAsync(CancellationToken.None));
    }
}
