using System.Diagnostics;
using System.Globalization;
using Akka.Actor;
using Courier.Transfers;

namespace Courier.Bench.Scenarios;

/// <summary>
/// <c>transfer-worker</c>: the runtime side of the <c>transfer</c> scenario, run by it as a child process so that its
/// peak memory can be read on its own. One transfer with the default <see cref="TransferOptions"/>, then one line on
/// stdout: <c>SECONDS BYTES SHA256</c> (the time of the <c>DownloadAsync</c>/<c>UploadAsync</c> call only: process
/// start-up and the actor system's are not included; SHA256 is <c>-</c> when the transfer computed none).
/// <c>download-plain</c> asks the Sandbox to leave out its <c>Repr-Digest</c>: a download with nothing to verify.
/// <c>download-loop</c> is the same download without the runtime: a plain <see cref="HttpClient"/> (over the runtime's
/// primary handler) reading the body into a file through one buffer of <see cref="TransferOptions.ReadBufferSize"/>, the
/// baseline the runtime's own machinery is measured against. <c>download-loop-sync</c> is that loop with the body read
/// synchronously (<see cref="Stream.Read(Span{byte})"/>) and written on one dedicated thread (not a thread-pool thread),
/// as curl's one thread reads and writes. After the SHA-256 the line carries the user and kernel CPU
/// seconds of this process during the transfer alone. <c>COURIER_BENCH_READ_BUFFER</c> and <c>COURIER_BENCH_CHUNK</c>
/// (bytes) override <see cref="TransferOptions.ReadBufferSize"/> and <see cref="TransferOptions.ChunkSize"/>.
/// </summary>
internal sealed class TransferWorker : IScenario
{
    public string Name => "transfer-worker";

    public string Usage => "transfer-worker download URL FILE | download-plain URL FILE | download-loop URL FILE | download-loop-sync URL FILE | multipart URL FILE | tus URL FILE | idle";

    public string Description => "(run by `transfer`) one transfer through the runtime in this process; prints seconds, bytes, SHA-256 and the transfer's CPU.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (!(args is ["idle"] || args is ["download" or "download-plain" or "download-loop" or "download-loop-sync" or "multipart" or "tus", _, _]))
            throw new UsageException("expected: download URL FILE | download-plain URL FILE | download-loop URL FILE | download-loop-sync URL FILE | multipart URL FILE | tus URL FILE | idle");

        var options = new HttpRuntimeOptions();
        if (Environment.GetEnvironmentVariable("COURIER_BENCH_READ_BUFFER") is { } readBuffer) options.Transfers.ReadBufferSize = int.Parse(readBuffer, CultureInfo.InvariantCulture);
        if (Environment.GetEnvironmentVariable("COURIER_BENCH_CHUNK") is { } chunk) options.Transfers.ChunkSize = int.Parse(chunk, CultureInfo.InvariantCulture);
        var system = ActorSystem.Create("transfer", "akka.loglevel = WARNING\nakka.log-dead-letters = off");
        // Transfers only: the handler the runtime gives transfers (and the CLI's RuntimeHost builds), without automatic
        // decompression. The plain loop uses the same one, as before.
        using var handler = HttpRuntime.CreatePrimaryHandler(options, decompress: false);
        try
        {
            var runtime = HttpRuntime.Start(system, options, handler);
            if (args[0] == "idle")
            {
                // The runtime's own footprint: started, nothing transferred.
                Console.WriteLine("0 0 -");
                return 0;
            }

            var url = new Uri(args[1]);
            var cpu = Environment.CpuUsage;
            var started = Stopwatch.GetTimestamp();
            var done = args[0] switch
            {
                "download-loop" => await PlainLoopAsync(handler, url, args[2], options.Transfers.ReadBufferSize, cancellationToken),
                "download-loop-sync" => await SyncLoopAsync(handler, url, args[2], options.Transfers.ReadBufferSize, cancellationToken),
                "download" => await runtime.DownloadAsync(DownloadRequest.ToFile(url, args[2]), cancellationToken: cancellationToken),
                "download-plain" => await runtime.DownloadAsync(DownloadRequest.ToFile(url, args[2]) with { Headers = [new("X-Fault-No-Digest", "1")] },
                    cancellationToken: cancellationToken),
                "multipart" => await runtime.UploadAsync(UploadRequest.Multipart(url, args[2]), cancellationToken: cancellationToken),
                _ => await runtime.UploadAsync(UploadRequest.Tus(url, args[2]), cancellationToken: cancellationToken),
            };
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var (user, sys) = (Environment.CpuUsage.UserTime - cpu.UserTime, Environment.CpuUsage.PrivilegedTime - cpu.PrivilegedTime);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{seconds:0.000000} {done.Bytes} {done.Sha256 ?? "-"} {user.TotalSeconds:0.000} {sys.TotalSeconds:0.000}"));
            return 0;
        }
        finally
        {
            await system.Terminate();
        }
    }

    /// <summary>
    /// The download done by hand: GET with the response headers first, then the body into the file through one buffer
    /// of <paramref name="bufferSize"/>, each block written synchronously (an unbuffered <see cref="FileStream"/>), as
    /// the runtime's pump writes. Returned as a <see cref="TransferCompleted"/> so the caller prints it like the others.
    /// </summary>
    private static Task<TransferCompleted> PlainLoopAsync(HttpMessageHandler handler, Uri url, string path, int bufferSize, CancellationToken cancellationToken) =>
        ByHandAsync(handler, url, path, async (body, file) =>
        {
            var buffer = new byte[bufferSize];
            long total = 0;
            int read;
            while ((read = await body.ReadAsync(buffer, cancellationToken)) > 0)
            {
                file.Write(buffer, 0, read);
                total += read;
            }
            return total;
        }, cancellationToken);

    /// <summary>
    /// <see cref="PlainLoopAsync"/> with the body copied on a dedicated thread (<see cref="TaskCreationOptions.LongRunning"/>)
    /// that reads the response stream synchronously and writes each block synchronously: no continuation is scheduled on
    /// the thread pool between a socket read and the write.
    /// </summary>
    private static Task<TransferCompleted> SyncLoopAsync(HttpMessageHandler handler, Uri url, string path, int bufferSize, CancellationToken cancellationToken) =>
        ByHandAsync(handler, url, path, (body, file) => Task.Factory.StartNew(() =>
        {
            var buffer = new byte[bufferSize];
            long copied = 0;
            int read;
            while ((read = body.Read(buffer, 0, buffer.Length)) > 0)
            {
                file.Write(buffer, 0, read);
                copied += read;
            }
            return copied;
        }, cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default), cancellationToken);

    /// <summary>
    /// What both loops share: the GET (no digest asked for, headers first), the body stream and the file (unbuffered);
    /// <paramref name="copy"/> moves the bytes and returns how many.
    /// </summary>
    private static async Task<TransferCompleted> ByHandAsync(HttpMessageHandler handler, Uri url, string path,
        Func<Stream, FileStream, Task<long>> copy, CancellationToken cancellationToken)
    {
        using var client = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Add("X-Fault-No-Digest", "1");
        using var response = await client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
        await using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, BufferSize = 0 });
        var total = await copy(body, file);
        return new TransferCompleted(0, TransferDirection.Download, path, total, TimeSpan.Zero, null);
    }
}
