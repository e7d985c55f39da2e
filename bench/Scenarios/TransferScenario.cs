using System.Globalization;
using System.Net.Http.Json;
using System.Security.Cryptography;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>transfer</c>: large downloads and uploads through the runtime (<c>transfer-worker</c>, a child process) against
/// curl on the same Sandbox (a child process) and the same file: throughput side by side, and the runtime's peak memory
/// for a small and a large file, which must not grow with the file.
/// </summary>
/// <remarks>
/// The files are generated (pseudo-random bytes, so nothing along the way can compress them) in a temporary folder that
/// is deleted at the end, on errors and on Ctrl+C; the Sandbox gets a folder inside it as its TMPDIR, so its file store
/// goes too. The server is fed with a raw <c>PUT /files/{key}/{name}</c> (its documented way to place a file).
/// </remarks>
internal sealed class TransferScenario : IScenario
{
    private const long MiB = 1024 * 1024;
    private const string Curl = "curl";
    private const string Sha256Sum = "sha256sum";
    private const string Sync = "sync";

    public string Name => "transfer";

    public string Usage => "transfer [--mib 1024] [--large-mib 4095] [--rounds 3] [--dir /tmp] [--set all|plain] [--baseline PATH/Courier.Bench.dll]";

    public string Description =>
        "download and upload (multipart, tus) of a --mib file through the runtime vs curl on the same Sandbox, interleaved: MiB/s and ratio to curl; " +
        "the runtime's peak RSS for --mib and --large-mib files.";

    private enum Kind { Download, Multipart, Tus }

    /// <summary>
    /// One row: how it runs (<paramref name="Mode"/>: a transfer-worker mode, or a curl variant) and the row it is compared
    /// with; <paramref name="Worker"/> is the bench assembly that runs it (another build's for the baseline row), or null for this one.
    /// </summary>
    private sealed record Client(string Name, Kind Kind, bool IsCurl, string Mode, string Versus, string? Worker = null);

    private const string CurlGet = "curl -o";
    private const string CurlGetSha = "curl -o + sha256sum";
    private const string CurlPost = "curl -F (multipart)";
    private const string RuntimePlain = "runtime DownloadAsync, nothing to verify";

    private static readonly Client[] AllClients =
    [
        new("runtime DownloadAsync, verified", Kind.Download, false, "download", CurlGetSha),
        new(CurlGetSha, Kind.Download, true, "get-sha", CurlGetSha),
        new(RuntimePlain, Kind.Download, false, "download-plain", CurlGet),
        new(CurlGet, Kind.Download, true, "get", CurlGet),
        new("runtime UploadAsync multipart", Kind.Multipart, false, "multipart", CurlPost),
        new(CurlPost, Kind.Multipart, true, "post", CurlPost),
        new("runtime UploadAsync tus", Kind.Tus, false, "tus", CurlPost),
    ];

    /// <summary>
    /// <c>--set plain</c>: the download with nothing to verify beside what it is made of, a plain HttpClient loop with the same
    /// buffer (and, with <c>--baseline</c>, the same download through another build), each against curl -o.
    /// </summary>
    private static Client[] PlainClients(string baseline) =>
    [
        new(RuntimePlain, Kind.Download, false, "download-plain", CurlGet),
        .. baseline.Length > 0 ? [new Client("baseline build: " + RuntimePlain, Kind.Download, false, "download-plain", CurlGet, baseline)] : Array.Empty<Client>(),
        new("HttpClient loop, nothing to verify", Kind.Download, false, "download-loop", CurlGet),
        new("HttpClient loop, sync reads on its own thread", Kind.Download, false, "download-loop-sync", CurlGet),
        new(CurlGet, Kind.Download, true, "get", CurlGet),
    ];

    /// <summary>
    /// One transfer: its own timing (process start-up excluded), the CPU seconds (user + kernel) it cost (the worker's own
    /// measure of the transfer alone; for curl its whole process), and the client process's figures. <see cref="ServerCpu"/>:
    /// the Sandbox's CPU seconds meanwhile (over loopback the kernel's work for one connection is shared between both
    /// processes in a way that depends on their timing, so the two are compared together too).
    /// </summary>
    private sealed record Sample(double Seconds, double Cpu, ProcessRun Process)
    {
        public double ServerCpu { get; init; }

        public double MiBPerSecond(long bytes) => bytes / (double)MiB / Seconds;

        /// <summary>CPU seconds per GiB transferred.</summary>
        public double CpuPerGiB(long bytes) => Cpu / (bytes / (double)(1L << 30));
    }

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        var options = new ArgReader(args, "mib", "large-mib", "rounds", "dir", "set", "baseline");
        var mib = options.Int("mib", 1024);
        // 4 GiB less 1 MiB: a multipart body (file + part headers) must stay within the Sandbox's 4 GiB upload limit.
        var largeMib = options.Int("large-mib", 4095, min: 0);
        var rounds = options.Int("rounds", 3);
        var dir = options.String("dir", Path.GetTempPath().TrimEnd(Path.DirectorySeparatorChar));
        var set = options.String("set", "all");
        var baseline = options.String("baseline", "");
        if (set is not ("all" or "plain")) throw new UsageException($"--set: expected all or plain, not '{set}'");
        if (baseline.Length > 0 && set != "plain") throw new UsageException("--baseline needs --set plain");
        if (baseline.Length > 0 && !File.Exists(baseline)) throw new UsageException($"--baseline: no such file '{baseline}'");
        var clients = set == "plain" ? PlainClients(baseline) : AllClients;
        var command = RunInfo.Command(Name, [("mib", I(mib)), ("large-mib", I(largeMib)), ("rounds", I(rounds)), ("dir", dir), ("set", set),
            .. baseline.Length > 0 ? [("baseline", baseline)] : Array.Empty<(string, string)>()]);

        // Source, the server's copy, a download and an upload's copy of the largest file can exist at once.
        var needed = 4 * Math.Max(mib, largeMib) * MiB + 512 * MiB;
        var free = new DriveInfo(Path.GetFullPath(dir)).AvailableFreeSpace;
        Progress($"free space in {dir}: {free / (double)(1 << 30):0.0} GiB (needed: {needed / (double)(1 << 30):0.0} GiB)");
        if (free < needed) throw new UsageException($"not enough free space in {dir}: {free / MiB:N0} MiB free, {needed / MiB:N0} MiB needed");

        var work = Directory.CreateDirectory(Path.Combine(dir, "courier-bench-transfer-" + Guid.NewGuid().ToString("N")[..8])).FullName;
        try
        {
            var serverTemp = Directory.CreateDirectory(Path.Combine(work, "sandbox")).FullName;
            await using var sandbox = await SandboxProcess.StartAsync(cancellationToken, serverTemp);
            Progress($"Sandbox (pid {sandbox.ProcessId}) at {sandbox.BaseAddress}; work folder {work}");
            using var http = new HttpClient { BaseAddress = sandbox.BaseAddress, Timeout = Timeout.InfiniteTimeSpan };
            using var server = System.Diagnostics.Process.GetProcessById(sandbox.ProcessId);
            var worker = new WorkerContext(sandbox.BaseAddress, http, work, server);

            var idle = (await worker.RunWorkerAsync(["idle"], cancellationToken)).Process;
            Progress($"idle runtime process: peak RSS {idle.PeakRssMiB:0.0} MiB");

            // Part 1: throughput, interleaved rounds on the --mib file.
            var small = await worker.CreateAndPutAsync($"source-{mib}m.bin", mib, cancellationToken);
            var samples = clients.Select(_ => new List<Sample>()).ToArray();
            for (var round = 0; round < rounds; round++)
            {
                for (var k = 0; k < clients.Length; k++)
                {
                    var c = (round + k) % clients.Length;
                    var sample = await worker.TransferAsync(clients[c], small, cancellationToken);
                    samples[c].Add(sample);
                    Progress($"round {round + 1}/{rounds} {clients[c].Name,-30} {sample.MiBPerSecond(small.Bytes),8:0.0} MiB/s  " +
                             $"{sample.Seconds,7:0.00} s  CPU {sample.CpuPerGiB(small.Bytes),5:0.00} s/GiB  peak RSS {sample.Process.PeakRssMiB,7:0.0} MiB  process CPU user {sample.Process.UserCpu?.TotalSeconds,5:0.00} s sys {sample.Process.SystemCpu?.TotalSeconds,5:0.00} s");
                }
            }
            var throughput = ThroughputTable(clients, samples, small.Bytes);
            worker.Delete(small);

            RunInfo.PrintHeader(command);
            Console.WriteLine(throughput);
            Console.WriteLine(
                $"""
                Each row: median of {rounds} interleaved rounds (the order rotates per round) of one transfer of a {Size(small.Bytes)} file of
                pseudo-random bytes, on one Sandbox (a separate process, files on the same disk). Every client is a separate process:
                the runtime is `Courier.Bench.dll transfer-worker` (`DownloadAsync` / `UploadAsync` with the default TransferOptions),
                run as the CLI runs: precompiled (ReadyToRun, in a Release build) and with `DOTNET_TieredPGO=0`.
                *verified*: the Sandbox sends `Repr-Digest`, the runtime hashes while it writes and checks it; *nothing to verify*: the
                request carries `X-Fault-No-Digest` (the Sandbox sends no digest), no expected hash: nothing is hashed. *HttpClient loop*:
                the same worker without the runtime (`transfer-worker download-loop`: a plain HttpClient over the same handler, the body
                read through one buffer of the same size, each block written to the file); *sync reads on its own thread*: that loop with
                the body read synchronously and written on one dedicated thread (`download-loop-sync`). curl is
                `curl -sS -f -o FILE URL` and `curl -sS -f -F file=@FILE URL` (with `-w %{"{time_total}"}`); *curl -o + sha256sum* is the
                usual verified download: the same curl, then `sha256sum FILE` (its time is curl's time_total + sha256sum's wall time).
                *MiB/s*: file size / the transfer's own time (the call in the worker, curl's time_total: process start-up excluded).
                *spread*: (max - min) / median of MiB/s. *vs*: median over the rounds of MiB/s / MiB/s of the row named in *compared with*,
                in the same round (tus against curl's multipart: curl has no tus). *CPU s/GiB*: user + kernel time per GiB of the transfer
                alone for the workers (measured in the worker around the call), of the whole process for curl (and sha256sum);
                *CPU vs*: median over the rounds of its ratio to the compared row's in the same round. *server CPU s/GiB*: the Sandbox
                process's CPU during the transfer (over loopback the kernel's work for the connection falls to either process depending
                on their timing, so a client's kernel time alone can move to or from the server); *client + server CPU vs*: the ratio
                of both together to the compared row's, per round, median. *CPU s user*, *sys*: user and
                kernel time of the client process(es), all of it (start-up included). {MeasuredProcess.PeakMethod}. Every transfer is
                checked outside its timing: downloads by length and SHA-256 of the file written, uploads by the length and SHA-256 the
                Sandbox reports; then the file is deleted and `sync` waits for the file system's writeback, so that no transfer pays
                for the one before it.
                """);
            Console.WriteLine();
            if (largeMib == 0) return 0;

            // Part 2: the runtime's memory with a large file, one run of each (memory is not noisy; time is not compared).
            var large = await worker.CreateAndPutAsync($"source-{largeMib}m.bin", largeMib, cancellationToken);
            var memory = new MarkdownTable("transfer (runtime)", ">peak RSS MiB, " + Size(small.Bytes), ">peak RSS MiB, " + Size(large.Bytes), ">large / small", ">MiB/s, " + Size(large.Bytes));
            foreach (var (client, c) in clients.Select((client, c) => (client, c)).Where(x => !x.client.IsCurl && x.client.Worker is null))
            {
                var sample = await worker.TransferAsync(client, large, cancellationToken);
                Progress($"large {client.Name,-30} {sample.MiBPerSecond(large.Bytes),8:0.0} MiB/s  {sample.Seconds,7:0.00} s  peak RSS {sample.Process.PeakRssMiB,7:0.0} MiB");
                var smallPeak = Stats.Median(samples[c].Select(s => s.Process.PeakRssMiB));
                memory.AddRow(client.Name, F1(smallPeak), F1(sample.Process.PeakRssMiB), (sample.Process.PeakRssMiB / smallPeak).ToString("0.00", CultureInfo.InvariantCulture),
                    F1(sample.MiBPerSecond(large.Bytes)));
            }
            memory.AddRow("(idle process: started, nothing transferred)", F1(idle.PeakRssMiB), "", "", "");
            worker.Delete(large);

            Console.WriteLine(memory);
            Console.WriteLine(
                $"""
                Peak RSS of the runtime's process (`transfer-worker`, the whole process: .NET runtime, actor system, buffers) for the
                {Size(small.Bytes)} file (median of the rounds above) and the {Size(large.Bytes)} file (one run each). It must not grow with the file.
                """);
            return 0;
        }
        finally
        {
            // The Sandbox was killed by now (its await using ends first): nothing holds the files any more.
            try
            {
                Directory.Delete(work, recursive: true);
            }
            catch (IOException ex)
            {
                Progress($"could not delete {work}: {ex.Message}");
            }
        }
    }

    private static MarkdownTable ThroughputTable(Client[] clients, List<Sample>[] samples, long bytes)
    {
        var table = new MarkdownTable("transfer", ">MiB/s", ">spread", "compared with", ">vs", ">CPU s/GiB", ">CPU vs", ">server CPU s/GiB", ">client + server CPU vs",
            ">peak RSS MiB", ">CPU s user", ">CPU s sys");
        for (var c = 0; c < clients.Length; c++)
        {
            var rates = samples[c].Select(s => s.MiBPerSecond(bytes)).ToArray();
            // The reference row's run of the same round.
            var versus = Array.FindIndex(clients, x => x.Name == clients[c].Versus);
            var ratio = Stats.Median(rates.Zip(samples[versus], (r, s) => r / s.MiBPerSecond(bytes)));
            var cpuRatio = Stats.Median(samples[c].Zip(samples[versus], (a, b) => a.Cpu / b.Cpu));
            var bothRatio = Stats.Median(samples[c].Zip(samples[versus], (a, b) => (a.Cpu + a.ServerCpu) / (b.Cpu + b.ServerCpu)));
            var gib = bytes / (double)(1L << 30);
            table.AddRow(clients[c].Name, F1(Stats.Median(rates)), $"{Stats.Spread(rates):P0}".Replace(" ", "", StringComparison.Ordinal),
                versus == c ? "" : clients[c].Versus, versus == c ? "" : ratio.ToString("0.00", CultureInfo.InvariantCulture),
                Stats.Median(samples[c].Select(s => s.CpuPerGiB(bytes))).ToString("0.00", CultureInfo.InvariantCulture),
                versus == c ? "" : cpuRatio.ToString("0.00", CultureInfo.InvariantCulture),
                (Stats.Median(samples[c].Select(s => s.ServerCpu)) / gib).ToString("0.00", CultureInfo.InvariantCulture),
                versus == c ? "" : bothRatio.ToString("0.00", CultureInfo.InvariantCulture), F1(Stats.Median(samples[c].Select(s => s.Process.PeakRssMiB))),
                Cpu(samples[c].Select(s => s.Process.UserCpu)), Cpu(samples[c].Select(s => s.Process.SystemCpu)));
        }
        return table;
    }

    /// <summary>
    /// The worker runs as the CLI (src/Host/Host.csproj) does, the program the project ships for one-shot transfers: without
    /// the instrumented tier of dynamic PGO (<c>TieredPGO</c> false). A process that lives for one download does not
    /// profit from it, and it re-compiles the hot methods of the HTTP stack and the actor system once more while the bytes
    /// flow (measured: about 0.3 s of CPU in the first GiB on 2 cores, see RESULTS.md). Only the worker: the bench's own
    /// process (the http scenario's clients) keeps the .NET defaults.
    /// </summary>
    private static readonly Dictionary<string, string> WorkerEnvironment = new() { ["DOTNET_TieredPGO"] = "0" };

    /// <summary>
    /// The runtime's downloads also run as the CLI's <c>download</c> command runs (src/Host/Cli/ProcessTuning.cs): with
    /// inline socket completions, and reads of 256 KiB unless <c>COURIER_BENCH_READ_BUFFER</c> names another size.
    /// The plain loops (b, b') and the uploads keep the defaults.
    /// </summary>
    private static readonly Dictionary<string, string> DownloadWorkerEnvironment = DownloadEnvironment();

    private static Dictionary<string, string> DownloadEnvironment()
    {
        var environment = new Dictionary<string, string>(WorkerEnvironment) { ["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1" };
        if (Environment.GetEnvironmentVariable("COURIER_BENCH_READ_BUFFER") is null) environment["COURIER_BENCH_READ_BUFFER"] = "262144";
        return environment;
    }

    /// <summary>A file of the scenario: on disk in the work folder, and on the server under <c>/files/dl/{name}</c>.</summary>
    private sealed record SourceFile(string Path, string Name, long Bytes, string Sha256);

    /// <summary>What the transfers need: the server, a client for its controls, the work folder.</summary>
    private sealed class WorkerContext(Uri server, HttpClient http, string work, System.Diagnostics.Process serverProcess)
    {
        private int _next;

        public async Task<SourceFile> CreateAndPutAsync(string name, int mib, CancellationToken cancellationToken)
        {
            var path = System.IO.Path.Combine(work, name);
            Progress($"writing {path} ({mib:N0} MiB)...");
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var random = new Random(mib);
            var block = new byte[MiB];
            await using (var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous))
            {
                for (var i = 0; i < mib; i++)
                {
                    random.NextBytes(block);
                    hash.AppendData(block);
                    await file.WriteAsync(block, cancellationToken);
                }
            }
            var sha = Convert.ToHexStringLower(hash.GetHashAndReset());

            Progress($"PUT /files/dl/{name}...");
            await using (var body = File.OpenRead(path))
            {
                using var content = new StreamContent(body, 1 << 20);
                using var response = await http.PutAsync($"files/dl/{name}", content, cancellationToken);
                response.EnsureSuccessStatusCode();
            }
            var info = await InfoAsync("dl", name, cancellationToken);
            if (info.Sha256 != sha || info.Length != (long)mib * MiB) throw new InvalidOperationException($"the server stored {info} for {name}");
            return new SourceFile(path, name, (long)mib * MiB, sha);
        }

        public void Delete(SourceFile file) => File.Delete(file.Path); // the server's copy goes with its folder at the end

        private double ServerCpuSeconds()
        {
            serverProcess.Refresh();
            return serverProcess.TotalProcessorTime.TotalSeconds;
        }

        /// <summary>One transfer by <paramref name="client"/>, checked outside its timing; the Sandbox's CPU meanwhile in <see cref="Sample.ServerCpu"/>.</summary>
        public async Task<Sample> TransferAsync(Client client, SourceFile file, CancellationToken cancellationToken)
        {
            var serverCpu = ServerCpuSeconds();
            var download = System.IO.Path.Combine(work, $"download-{Interlocked.Increment(ref _next)}.bin");
            var source = new Uri(server, $"files/dl/{file.Name}");
            var target = new Uri(server, client.Kind == Kind.Tus ? "files/up/tus" : "files/up/multipart");
            try
            {
                Sample sample;
                if (client.IsCurl)
                {
                    string[] curlArgs = client.Kind == Kind.Download
                        ? ["-sS", "-f", "-o", download, "-w", "%{time_total}", source.ToString()]
                        : ["-sS", "-f", "-o", "/dev/null", "-F", $"file=@{file.Path}", "-w", "%{time_total}", target.ToString()];
                    var run = (await MeasuredProcess.RunAsync(Curl, curlArgs, cancellationToken)).EnsureSuccess(string.Join(' ', curlArgs));
                    serverCpu = ServerCpuSeconds() - serverCpu;
                    sample = new Sample(double.Parse(run.Stdout.Trim(), CultureInfo.InvariantCulture), run.Cpu?.TotalSeconds ?? double.NaN, run);
                    if (client.Mode == "get-sha")
                    {
                        // The usual verified download: then hash the file (read back from the page cache, as a user would).
                        var hash = (await MeasuredProcess.RunAsync(Sha256Sum, [download], cancellationToken)).EnsureSuccess("sha256sum " + download);
                        var sum = hash.Stdout.Split(' ', 2)[0];
                        if (sum != file.Sha256) throw new InvalidOperationException($"{client.Name}: sha256sum {sum}, expected {file.Sha256}");
                        sample = new Sample(sample.Seconds + hash.Elapsed.TotalSeconds, sample.Cpu + (hash.Cpu?.TotalSeconds ?? double.NaN), run with
                        {
                            UserCpu = run.UserCpu + hash.UserCpu,
                            SystemCpu = run.SystemCpu + hash.SystemCpu,
                            PeakRssBytes = Math.Max(run.PeakRssBytes, hash.PeakRssBytes),
                        });
                    }
                }
                else
                {
                    sample = await RunWorkerAsync([client.Mode, (client.Kind == Kind.Download ? source : target).ToString(), client.Kind == Kind.Download ? download : file.Path], cancellationToken,
                        client.Worker);
                    serverCpu = ServerCpuSeconds() - serverCpu;
                    var sha = sample.Process.Stdout.Trim().Split(' ')[2];
                    // The verified download reports the SHA-256 it checked; nothing else hashes (no ComputeSha256 in the worker).
                    if (client.Mode == "download" ? sha != file.Sha256 : sha != "-")
                        throw new InvalidOperationException($"{client.Name}: reported SHA-256 '{sha}', expected {(client.Mode == "download" ? file.Sha256 : "none (nothing hashed)")}");
                }

                if (client.Kind == Kind.Download)
                {
                    var length = new FileInfo(download).Length;
                    if (length != file.Bytes) throw new InvalidOperationException($"{client.Name}: downloaded {length} bytes, expected {file.Bytes}");
                    if (client.Mode is "download-plain" or "download-loop" or "download-loop-sync" or "get")
                    {
                        // Not verified by the client: checked here, outside the timing.
                        await using var written = File.OpenRead(download);
                        var actual = Convert.ToHexStringLower(await SHA256.HashDataAsync(written, cancellationToken));
                        if (actual != file.Sha256) throw new InvalidOperationException($"{client.Name}: the file written has SHA-256 {actual}, expected {file.Sha256}");
                    }
                }
                else
                {
                    var info = await InfoAsync("up", file.Name, cancellationToken);
                    if (info.Sha256 != file.Sha256 || info.Length != file.Bytes) throw new InvalidOperationException($"{client.Name}: the server stored {info}");
                }
                return sample with { ServerCpu = serverCpu };
            }
            finally
            {
                File.Delete(download);
                // Outside every timing: let the file system's writeback of this transfer end before the next one starts.
                // A client that truncates its file (File.Create does) has it written back in its close, 1 GiB at about
                // 1 GB/s on this disk, and that I/O and its kernel time landed on whichever transfer ran next (vmstat:
                // one 1 GiB burst per such transfer; the next client's round 30 to 40 % slower, curl's included).
                await MeasuredProcess.RunAsync(Sync, [], cancellationToken);
            }
        }

        /// <summary>Runs <c>transfer-worker</c> of this build, or of the bench assembly <paramref name="worker"/> (another build's).</summary>
        public async Task<Sample> RunWorkerAsync(string[] args, CancellationToken cancellationToken, string? worker = null)
        {
            var run = (await MeasuredProcess.RunAsync(ChildProcess.DotnetHost(), [worker ?? ChildProcess.BenchAssembly, "transfer-worker", .. args], cancellationToken,
                    args[0] is "download" or "download-plain" ? DownloadWorkerEnvironment : WorkerEnvironment))
                .EnsureSuccess("transfer-worker " + args[0]);
            var fields = run.Stdout.Trim().Split(' ');
            // SECONDS BYTES SHA256 [USER SYS]: a build older than the CPU fields leaves them out: its process CPU stands in.
            var cpu = fields.Length >= 5
                ? double.Parse(fields[3], CultureInfo.InvariantCulture) + double.Parse(fields[4], CultureInfo.InvariantCulture)
                : run.Cpu?.TotalSeconds ?? double.NaN;
            return new Sample(double.Parse(fields[0], CultureInfo.InvariantCulture), cpu, run);
        }

        private async Task<FileInfoAnswer> InfoAsync(string key, string name, CancellationToken cancellationToken) =>
            await http.GetFromJsonAsync<FileInfoAnswer>($"files/{key}/{name}/info", cancellationToken)
            ?? throw new InvalidOperationException($"no info for {key}/{name}");
    }

    private sealed record FileInfoAnswer(string Name, long Length, string Sha256);

    private static string Size(long bytes) => bytes % (1L << 30) == 0 ? $"{bytes >> 30} GiB" : $"{bytes / MiB:N0} MiB";

    /// <summary>The median of CPU times, or n/a when they could not be read.</summary>
    private static string Cpu(IEnumerable<TimeSpan?> times) =>
        times.All(t => t is not null) ? Stats.Median(times.Select(t => t!.Value.TotalSeconds)).ToString("0.00", CultureInfo.InvariantCulture) : "n/a";

    private static string F1(double value) => value.ToString("0.0", CultureInfo.InvariantCulture);

    private static string I(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static void Progress(string line) => Console.Error.WriteLine(line);
}
