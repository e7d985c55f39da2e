namespace Courier.Host.Cli;

/// <summary>
/// Settings of the whole process that only a program may choose, not the library it uses: the CLI chooses them for a
/// command before that command opens its first socket.
/// </summary>
internal static class ProcessTuning
{
    /// <summary>
    /// The .NET runtime's switch that runs a socket's continuations on the socket engine's own thread (read once, when
    /// the process opens its first socket).
    /// </summary>
    internal const string InlineSocketCompletions = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// The configuration <c>download</c> starts from (any other source wins: appsettings.json, the environment, the
    /// command line): reads of 256 KiB from the socket (<c>Courier:Transfers:ReadBufferSize</c>; the library's default is
    /// 80 KiB). With inline socket completions the larger reads cost less CPU per GiB and went faster on 2 cores, five
    /// runs each: 0.81 to 0.86 of <c>curl -o</c> against 0.67 to 0.84 with 80 KiB (medians 0.83 and 0.78), CPU per GiB
    /// 0.79 to 0.86 s against 0.85 to 0.99 s (bench/RESULTS.md). A process with one transfer can spend three such
    /// buffers; a service with many keeps 80 KiB.
    /// </summary>
    public static readonly IReadOnlyDictionary<string, string?> DownloadDefaults = new Dictionary<string, string?>
    {
        ["Courier:Transfers:ReadBufferSize"] = "262144",
    };

    /// <summary>
    /// For <c>download</c>, inline socket completions: the download pump's next block (its write to the <c>.part</c>
    /// file, the byte counter, a progress message to the actor) runs on the thread that saw the socket readable, as
    /// curl's loop runs on its one thread, instead of waking a thread-pool worker for every read. Measured on 2 cores
    /// (bench/RESULTS.md, "inline socket completions"): 0.87 of the CPU per GiB, lower in 20 rounds of 20, and 1.06 of
    /// the speed. Only for <c>download</c>, a process with one transfer: with many sockets (<c>batch</c>, <c>request</c>
    /// with its token endpoint) every continuation of the process would queue on that one thread. A value already in
    /// the environment (<c>0</c> turns it off) wins.
    /// </summary>
    public static void ForCommand(IReadOnlyList<string> args) =>
        ForCommand(args, Environment.GetEnvironmentVariable, Environment.SetEnvironmentVariable);

    /// <summary><see cref="ForCommand(IReadOnlyList{string})"/> over an environment given as its two functions (tests).</summary>
    internal static void ForCommand(IReadOnlyList<string> args, Func<string, string?> get, Action<string, string> set)
    {
        if (args is ["download", ..] && get(InlineSocketCompletions) is null) set(InlineSocketCompletions, "1");
    }
}
