using System.Net;
using System.Net.Sockets;

namespace Courier.Tests.Support;

/// <summary>Ports free on 127.0.0.1, for a server that must be told its port before it binds (Akka.Management's endpoint).</summary>
public static class LoopbackPorts
{
    /// <summary>
    /// <paramref name="count"/> different ports free now: all held at once so they differ, then released for the caller
    /// to bind (another process could take one in between; on a test machine that is rare).
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToArray();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }
}
