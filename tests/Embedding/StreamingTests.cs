using System.Net;
using Courier.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Courier.Tests.Embedding;

/// <summary>Memory is measured for the whole process: nothing else may run beside these tests.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryMeasuredCollection
{
    public const string Name = "memory measured";
}

/// <summary>Responses read with <see cref="HttpCompletionOption.ResponseHeadersRead"/> stream through the handler.</summary>
[Collection(MemoryMeasuredCollection.Name)]
public sealed class StreamingTests
{
    private const long Size = 100L * 1024 * 1024;

    private static Task<LoopbackKestrel> StartBigBodyServerAsync() =>
        LoopbackKestrel.StartAsync(https: false, HttpProtocols.Http1, app => app.MapGet("/big", async (HttpContext context) =>
        {
            var chunk = new byte[64 * 1024];
            Array.Fill(chunk, (byte)'z');
            context.Response.ContentLength = Size;
            for (long sent = 0; sent < Size; sent += chunk.Length)
                await context.Response.Body.WriteAsync(chunk, context.RequestAborted);
        }));

    [Fact]
    public async Task A_100_MB_response_read_with_ResponseHeadersRead_streams_through_with_flat_memory()
    {
        await using var server = await StartBigBodyServerAsync();
        await using var runtime = LoopbackRuntime.Start();
        using var http = new HttpClient(new CourierDelegatingHandler(runtime.Client)) { BaseAddress = server.BaseAddress };
        using (var warm = await http.GetAsync("/big", HttpCompletionOption.ResponseHeadersRead)) Assert.Equal(HttpStatusCode.OK, warm.StatusCode);

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await http.GetAsync("/big", HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[81920];
        long total = 0;
        int read;
        while ((read = await body.ReadAsync(buffer)) > 0) total += read;
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(Size, total);
        // Buffered, the body alone would allocate at least 100 MB; streamed, the process allocates a few MB at most
        // (the server's writes and the client's reads reuse their buffers).
        Assert.True(allocated < 16 * 1024 * 1024, $"{allocated / 1024 / 1024} MB were allocated while 100 MB streamed through");
    }

    [Fact]
    public async Task With_ResponseContentRead_the_same_response_is_buffered_so_the_measure_can_tell_the_difference()
    {
        await using var server = await StartBigBodyServerAsync();
        await using var runtime = LoopbackRuntime.Start();
        using var http = new HttpClient(new CourierDelegatingHandler(runtime.Client)) { BaseAddress = server.BaseAddress, MaxResponseContentBufferSize = int.MaxValue };

        var before = GC.GetTotalAllocatedBytes(precise: true);
        using var response = await http.GetAsync("/big", HttpCompletionOption.ResponseContentRead);
        var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;

        Assert.Equal(Size, response.Content.Headers.ContentLength);
        Assert.True(allocated >= Size, $"only {allocated / 1024 / 1024} MB allocated for a buffered 100 MB body");
    }
}
