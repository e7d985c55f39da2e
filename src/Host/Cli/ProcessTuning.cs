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
