using System.Net;
using Akka.TestKit.Xunit2;
using Courier.Requests;

namespace Courier.Tests.Embedding;

/// <summary>The facade's SendAsync(HttpRequestMessage) converts like the AddCourier handler: nothing the caller set is dropped.</summary>
public sealed class FacadeConversionTests : TestKit
{
    private sealed class Recorder : HttpMessageHandler
    {
        public List<(Version Version, HttpVersionPolicy Policy, object? Option, int Attempt)> Seen { get; } = [];
        public Func<int, HttpStatusCode> Status { get; set; } = _ => HttpStatusCode.OK;

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            request.Options.TryGetValue(new HttpRequestOptionsKey<string>("test.option"), out var option);
            int attempt;
            lock (Seen)
            {
                Seen.Add((request.Version, request.VersionPolicy, option, Seen.Count + 1));
                attempt = Seen.Count;
            }
            return Task.FromResult(new HttpResponseMessage(Status(attempt)) { Content = new StringContent("ok") });
        }
    }

    [Fact]
    public async Task Version_policy_and_options_reach_the_wire_and_a_long_stream_body_is_sent_once()
    {
        var recorder = new Recorder();
        var options = new HttpRuntimeOptions();
        options.Retry.BaseDelay = TimeSpan.FromMilliseconds(1);
        options.Retry.Jitter = JitterMode.None;
        var client = HttpRuntime.Start(Sys, options, recorder, "facade-" + Guid.NewGuid().ToString("N")[..8]);

        using var request = new HttpRequestMessage(HttpMethod.Get, "https://api.example.test/x")
        {
            Version = HttpVersion.Version30,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Options.Set(new HttpRequestOptionsKey<string>("test.option"), "kept");
        using (await client.SendAsync(request)) { }
        Assert.Equal((HttpVersion.Version30, HttpVersionPolicy.RequestVersionExact, (object?)"kept", 1), recorder.Seen.Single());

        // A PUT (idempotent) whose unknown-length body is longer than the 1 MiB buffer: sent once, not retried on a 503.
        recorder.Seen.Clear();
        recorder.Status = _ => HttpStatusCode.ServiceUnavailable;
        using var put = new HttpRequestMessage(HttpMethod.Put, "https://api.example.test/big")
        {
            Content = new StreamContent(new UnknownLengthStream(new byte[2 * 1024 * 1024])),
        };
        await Assert.ThrowsAsync<Errors.HttpStatusException>(() => client.SendAsync(put));
        Assert.Single(recorder.Seen);
    }

    /// <summary>A stream that does not tell its length (a network or pipe stream).</summary>
    private sealed class UnknownLengthStream(byte[] data) : MemoryStream(data)
    {
        public override bool CanSeek => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    }
}
