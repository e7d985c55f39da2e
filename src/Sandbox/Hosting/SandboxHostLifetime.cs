using Microsoft.Extensions.Hosting;

namespace Courier.Sandbox.Hosting;

/// <summary>
/// A host lifetime that does nothing: an embedded sandbox must not hook Ctrl+C/SIGTERM of the process that hosts it
/// (tests, benchmarks). Its owner stops it by disposing the <see cref="SandboxServer"/>.
/// </summary>
internal sealed class SandboxHostLifetime : IHostLifetime
{
    public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
