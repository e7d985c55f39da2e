using Courier.Auth;
using Xunit;

namespace Courier.Tests.Auth;

/// <summary>The file token store: atomic replace, flushed file and folder, nothing left behind.</summary>
public sealed class FileTokenStoreTests : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("courier-store-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public async Task A_saved_pair_is_loaded_back_and_no_temporary_file_is_left_beside_it()
    {
        var store = new FileTokenStore(Path.Combine(_folder, "tokens.json"));
        var expires = new DateTimeOffset(2030, 1, 2, 3, 4, 5, TimeSpan.Zero);
        await store.SaveAsync(new TokenPair("access-1", "refresh-1"), CancellationToken.None);
        await store.SaveAsync(new TokenPair("access-2", "refresh-2", expires), CancellationToken.None);

        Assert.Equal(new TokenPair("access-2", "refresh-2", expires), await store.LoadAsync(CancellationToken.None));
        Assert.Equal(new[] { "tokens.json" }, Directory.GetFiles(_folder).Select(Path.GetFileName));
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(store.Path));

        await store.ClearAsync(CancellationToken.None);
        Assert.Null(await store.LoadAsync(CancellationToken.None));
    }

    [Fact]
    public void The_folder_flush_really_reaches_the_file_system()
    {
        // On Unix the folder is opened and fsynced after the rename (so a power loss cannot bring back a rotated-away
        // refresh token); a folder that cannot be opened is an error, not silently skipped.
        FileTokenStore.FolderSync.Flush(_folder);
        if (OperatingSystem.IsWindows()) return;
        var error = Assert.Throws<IOException>(() => FileTokenStore.FolderSync.Flush(Path.Combine(_folder, "missing")));
        Assert.Contains("could not be opened", error.Message);
    }

    [Fact]
    public void Flushing_the_folder_leaves_no_file_descriptor_open()
    {
        if (!OperatingSystem.IsLinux()) return;
        int Open() => Directory.GetFiles("/proc/self/fd").Length;
        var before = Open();
        for (var i = 0; i < 200; i++) FileTokenStore.FolderSync.Flush(_folder);
        Assert.InRange(Open(), 0, before + 20); // other threads may open a few; 200 leaked would show
    }

    [Fact]
    public async Task A_blank_path_and_missing_credentials_are_refused_by_name()
    {
        Assert.ThrowsAny<ArgumentException>(() => new FileTokenStore("   "));
        var store = new FileTokenStore(Path.Combine(_folder, "tokens.json"));
        var error = await Assert.ThrowsAsync<ArgumentNullException>(() => store.SaveAsync(null!, CancellationToken.None));
        Assert.Equal("credentials", error.ParamName);
        Assert.Empty(Directory.GetFiles(_folder));
    }
    [Fact]
    public async Task A_store_that_cannot_be_cleared_says_so_by_name_instead_of_keeping_the_credentials_silently()
    {
        // A sign-out or a revoked refresh token clears the store; if the clear fails, the old credentials would come back
        // at the next start, so the failure must reach the TokenActor (which logs it), not be swallowed.
        var path = Path.Combine(_folder, "tokens.json");
        Directory.CreateDirectory(Path.Combine(path, "occupied")); // something that cannot be deleted as a file
        var store = new FileTokenStore(path);

        var error = await Assert.ThrowsAsync<TokenStoreException>(() => store.ClearAsync(CancellationToken.None));
        Assert.Contains($"The token store '{path}' cannot be cleared", error.Message);
        Assert.True(Directory.Exists(path));
    }

    [Fact]
    public async Task Clearing_a_store_that_holds_nothing_is_not_an_error()
    {
        var store = new FileTokenStore(Path.Combine(_folder, "tokens.json"));
        await store.ClearAsync(CancellationToken.None);
        Assert.Null(await store.LoadAsync(CancellationToken.None));
    }

    [Fact]
    public async Task A_store_file_that_cannot_be_read_is_a_typed_error_naming_it()
    {
        // Permissions do not stop root (the tests may run as root); a file whose read fails with EIO does.
        if (!OperatingSystem.IsLinux()) return;
        var store = new FileTokenStore("/proc/self/mem");
        var error = await Assert.ThrowsAsync<TokenStoreException>(() => store.LoadAsync(CancellationToken.None));
        Assert.StartsWith("The token store '/proc/self/mem' cannot be read: ", error.Message);
        Assert.IsAssignableFrom<IOException>(error.InnerException);
    }
}
