using Courier.Host.Cli;
using Courier.Transfers;
using Xunit;

namespace Courier.Tests.Cli;

/// <summary>What the CLI sets in its own process before a command's first socket (over a given environment, not this process's).</summary>
public sealed class ProcessTuningTests
{
    private static Dictionary<string, string> Run(string[] args, Dictionary<string, string>? environment = null)
    {
        var env = environment ?? [];
        ProcessTuning.ForCommand(args, name => env.GetValueOrDefault(name), (name, value) => env[name] = value);
        return env;
    }

    [Fact]
    public void Download_turns_inline_socket_completions_on()
    {
        var env = Run(["download", "http://127.0.0.1:1/x", "x.bin"]);
        Assert.Equal("1", env[ProcessTuning.InlineSocketCompletions]);
    }

    [Theory]
    [InlineData("batch")]
    [InlineData("request")]
    [InlineData("upload")]
    [InlineData("demo")]
    [InlineData("serve")]
    public void Other_commands_keep_the_runtime_defaults(string command)
    {
        Assert.Empty(Run([command, "x"]));
        Assert.Empty(Run([]));
    }

    [Fact]
    public void A_value_the_user_set_wins()
    {
        var env = Run(["download", "http://127.0.0.1:1/x", "x.bin"], new() { [ProcessTuning.InlineSocketCompletions] = "0" });
        Assert.Equal("0", env[ProcessTuning.InlineSocketCompletions]);
    }

    [Fact]
    public async Task Download_reads_256_KiB_at_a_time_unless_the_configuration_names_a_size()
    {
        await using (var host = await RuntimeHost.StartAsync(new Dictionary<string, string?>(), verbose: false, defaults: ProcessTuning.DownloadDefaults))
            Assert.Equal(256 * 1024, host.Options.Transfers.ReadBufferSize);

        var configured = new Dictionary<string, string?> { ["Courier:Transfers:ReadBufferSize"] = "65536" };
        await using (var host = await RuntimeHost.StartAsync(configured, verbose: false, defaults: ProcessTuning.DownloadDefaults))
            Assert.Equal(65536, host.Options.Transfers.ReadBufferSize);

        await using (var host = await RuntimeHost.StartAsync(new Dictionary<string, string?>(), verbose: false)) // other commands
            Assert.Equal(new TransferOptions().ReadBufferSize, host.Options.Transfers.ReadBufferSize);
    }
}
