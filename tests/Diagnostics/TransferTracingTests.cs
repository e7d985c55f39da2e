using System.Diagnostics;
using System.Net;
using Courier.Diagnostics;
using Courier.Sandbox;
using Courier.Tests.Transfers;
using Courier.Transfers;

namespace Courier.Tests.Diagnostics;

/// <summary>A transfer is one span in the caller's trace, parent of its calls, with an event per resume.</summary>
public sealed class TransferTracingTests : IAsyncLifetime
{
    private const int MiB = 1024 * 1024;
    private readonly TempFolder _folder = new();
    private readonly string _key = "t" + Guid.NewGuid().ToString("N")[..10];
    private SandboxServer _server = null!;

    public async Task InitializeAsync() => _server = await SandboxServer.StartAsync();

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _folder.Dispose();
    }

    [Fact]
    public async Task A_download_cut_twice_is_one_span_with_two_resume_events_over_its_three_calls()
    {
        var (path, _) = _folder.CreateFile("source.bin", 4 * MiB, seed: 7);
        using (var http = new HttpClient { BaseAddress = _server.BaseAddress })
        await using (var stream = File.OpenRead(path))
        {
            using var put = await http.PutAsync($"/files/{_key}/four.bin", new StreamContent(stream));
            Assert.Equal(HttpStatusCode.Created, put.StatusCode);
        }
        using var capture = new TelemetryCapture();
        await using var runtime = LoopbackRuntime.Start(beforeStart: capture.InstallOn);

        var caller = new Activity("test-caller").Start();
        var request = DownloadRequest.ToFile(new Uri(_server.BaseAddress, $"/files/{_key}/four.bin?sig=s3cr3t"), _folder.File("four.bin")) with
        {
            Headers = [new("X-Fault-Cut-After", MiB.ToString()), new("X-Fault-Cut-First", "2")],
        };
        caller.Stop();
        var completed = await runtime.Client.DownloadAsync(request);

        Assert.Equal(4L * MiB, completed.Bytes);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (!capture.Stopped.Any(s => s.OperationName == CourierActivities.TransferOperation && s.TraceId == caller.TraceId) && DateTime.UtcNow < deadline)
            await Task.Delay(5);
        var trace = capture.InTrace(caller.TraceId);
        var transfer = Assert.Single(trace, s => s.OperationName == CourierActivities.TransferOperation);
        Assert.Equal(caller.SpanId, transfer.ParentSpanId);
        Assert.Equal("download", transfer.DisplayName);
        Assert.Equal("success", transfer.GetTagItem("courier.outcome"));
        Assert.Equal(4L * MiB, transfer.GetTagItem("courier.transfer.bytes"));
        var resumes = transfer.Events.Where(e => e.Name == CourierActivities.Events.Resume).ToList();
        Assert.Equal(2, resumes.Count);
        Assert.All(resumes, e => Assert.InRange((long)e.Tags.Single(t => t.Key == "courier.transfer.resume_from").Value!, 1, MiB * 2L));
        var calls = trace.Where(s => s.OperationName == CourierActivities.CallOperation).ToList();
        Assert.Equal(3, calls.Count);
        Assert.All(calls, c => Assert.Equal(transfer.SpanId, c.ParentSpanId));

        var bytes = Assert.Single(capture.Measurements, m => m.Instrument == "courier.transfer.bytes");
        Assert.Equal(4.0 * MiB, bytes.Value);
        Assert.Equal("download", bytes.Tag("courier.transfer.direction"));
        Assert.Single(capture.Measurements, m => m.Instrument == "courier.transfer.duration");
        foreach (var text in capture.EverythingExported(trace))
            Assert.DoesNotContain("s3cr3t", text);
    }
}
