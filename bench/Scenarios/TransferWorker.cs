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
/// </summary>
internal sealed class TransferWorker : IScenario
{
    public string Name => "transfer-worker";

    public string Usage => "transfer-worker download URL FILE | download-plain URL FILE | multipart URL FILE | tus URL FILE | idle";

    public string Description => "(run by `transfer`) one transfer through the runtime in this process; prints seconds, bytes and SHA-256.";

    public async Task<int> RunAsync(string[] args, CancellationToken cancellationToken)
    {
        if (!(args is ["idle"] || args is ["download" or "download-plain" or "multipart" or "tus", _, _]))
            throw new UsageException("expected: download URL FILE | download-plain URL FILE | multipart URL FILE | tus URL FILE | idle");

        var options = new HttpRuntimeOptions();
        var system = ActorSystem.Create("transfer", "akka.loglevel = WARNING\nakka.log-dead-letters = off");
        using var handler = HttpRuntime.CreatePrimaryHandler(options);
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
            var started = Stopwatch.GetTimestamp();
            var done = args[0] switch
            {
                "download" => await runtime.DownloadAsync(DownloadRequest.ToFile(url, args[2]), cancellationToken: cancellationToken),
                "download-plain" => await runtime.DownloadAsync(DownloadRequest.ToFile(url, args[2]) with { Headers = [new("X-Fault-No-Digest", "1")] },
                    cancellationToken: cancellationToken),
                "multipart" => await runtime.UploadAsync(UploadRequest.Multipart(url, args[2]), cancellationToken: cancellationToken),
                _ => await runtime.UploadAsync(UploadRequest.Tus(url, args[2]), cancellationToken: cancellationToken),
            };
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{seconds:0.000000} {done.Bytes} {done.Sha256 ?? "-"}"));
            return 0;
        }
        finally
        {
            await system.Terminate();
        }
    }
}
