using System.Net;
using Akka.Actor;

namespace Courier.Cluster;

/// <summary>Refuses to send tokens over unencrypted remoting beyond this machine, unless told to (like <see cref="Auth.TokenEndpointGuard"/>).</summary>
internal static class RemotingGuard
{
    private const string Tcp = "akka.remote.dot-netty.tcp";

    public static void Check(ActorSystem system, ClusteredCredentialsOptions options)
    {
        var config = system.Settings.Config;
        if (options.AllowUnencryptedRemoting || config.GetBoolean($"{Tcp}.enable-ssl", false)) return;
        var hosts = new[] { config.GetString($"{Tcp}.hostname", ""), config.GetString($"{Tcp}.public-hostname", "") };
        if (hosts.All(h => h.Length == 0 || IsLoopback(h)) && hosts[0].Length > 0) return;
        throw new InvalidOperationException(
            $"Clustered credentials send tokens between nodes, and remoting binds '{hosts[0]}' without TLS: enable it " +
            $"({Tcp}.enable-ssl = on with a certificate, or RemoteOptions.EnableSsl in Akka.Remote.Hosting), " +
            "or set Courier:Cluster:AllowUnencryptedRemoting for a network you trust.");
    }

    private static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase) || (IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address));
}
