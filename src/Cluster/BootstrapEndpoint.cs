using System.Collections.Immutable;
using System.Net;
using System.Text;
using Akka.Actor;
using Akka.Cluster;
using Akka.Event;
using Akka.Management.Cluster.Bootstrap.ContactPoint;
using Akka.Management.Dsl;
using Newtonsoft.Json;
using static Akka.Management.Cluster.Bootstrap.ContactPoint.HttpBootstrapJsonProtocol;

namespace Courier.Cluster;

/// <summary>
/// The one route of Akka.Management's HTTP endpoint that Cluster Bootstrap needs, <c>GET /bootstrap/seed-nodes</c>, served
/// on <see cref="HttpListener"/>: the answer other nodes' bootstrap probes read (this node's address and the members it
/// sees), built from Akka.Management's own <see cref="HttpBootstrapJsonProtocol"/> types and serialized the way
/// Akka.Management's <see cref="HttpClusterBootstrapRoutes"/> does.
/// </summary>
/// <remarks>
/// Akka.Management 1.5.73 serves its routes through Akka.Http.Shim, built against Ceen.Httpd 0.9.9; with the Ceen.Httpd
/// that restores (0.9.10) <c>AkkaManagement.Start()</c> fails with a <see cref="MissingMethodException"/> on
/// <c>HttpServer.ListenAsync</c>, so no node could be probed. Discovery, probing and the join decision stay Akka.Management's.
/// </remarks>
internal sealed class BootstrapEndpoint
{
    /// <summary>At most this many members are exposed per answer (Akka.Management's <c>MaxSeedNodesToExpose</c>).</summary>
    private const int MaxSeedNodesToExpose = 5;

    private readonly ActorSystem _system;
    private readonly HttpListener _listener = new();
    private readonly ILoggingAdapter _log;

    private BootstrapEndpoint(ActorSystem system, Uri selfBaseUri, string bindHost)
    {
        _system = system;
        _log = Logging.GetLogger(system, typeof(BootstrapEndpoint));
        SelfBaseUri = selfBaseUri;
        _listener.Prefixes.Add($"http://{bindHost}:{selfBaseUri.Port}/bootstrap/");
    }

    /// <summary>The base address other nodes reach this endpoint at (Akka.Management's self contact point).</summary>
    public Uri SelfBaseUri { get; }

    /// <summary>
    /// Starts listening on <paramref name="port"/> (all interfaces, or <paramref name="host"/> when it is an address of
    /// this machine's loopback) and tells Cluster Bootstrap its self contact point; stops when the actor system terminates.
    /// </summary>
    public static BootstrapEndpoint Start(ActorSystem system, string host, int port)
    {
        var selfBaseUri = new UriBuilder(Uri.UriSchemeHttp, host, port, "/").Uri;
        // A loopback address binds as itself; a host name or another address binds every interface ('+'), as
        // akka.management.http.bind-hostname = 0.0.0.0 would.
        var bindHost = IPAddress.TryParse(host, out var address) && IPAddress.IsLoopback(address) ? host : "+";
        var endpoint = new BootstrapEndpoint(system, selfBaseUri, bindHost);
        try
        {
            endpoint._listener.Start();
        }
        catch (HttpListenerException e)
        {
            throw new InvalidOperationException($"The Cluster Bootstrap endpoint could not listen on port {port} ({BootstrapOptions.SectionName}:ManagementPort): {e.Message}", e);
        }
        system.RegisterOnTermination(endpoint.Stop);
        _ = endpoint.AcceptAsync();
        // The bootstrap learns its self contact point from the route provider call that Akka.Management makes when it binds.
        _ = Akka.Management.Cluster.Bootstrap.ClusterBootstrap.Get(system).Routes(ManagementRouteProviderSettings.Create(selfBaseUri, readOnly: true));
        return endpoint;
    }

    private void Stop()
    {
        try
        {
            _listener.Close();
        }
        catch (ObjectDisposedException)
        {
        }
    }

    private async Task AcceptAsync()
    {
        while (_listener.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _listener.GetContextAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                return; // closed
            }
            _ = AnswerAsync(context);
        }
    }

    private async Task AnswerAsync(HttpListenerContext context)
    {
        try
        {
            using var response = context.Response;
            if (context.Request.HttpMethod != "GET" || context.Request.Url?.AbsolutePath.TrimEnd('/') != "/bootstrap/seed-nodes")
            {
                response.StatusCode = (int)HttpStatusCode.NotFound;
                return;
            }
            var body = Encoding.UTF8.GetBytes(SeedNodesJson());
            response.ContentType = "application/json";
            response.ContentLength64 = body.Length;
            await response.OutputStream.WriteAsync(body).ConfigureAwait(false);
        }
        catch (Exception e) when (e is HttpListenerException or IOException or ObjectDisposedException)
        {
            _log.Debug("Cluster Bootstrap endpoint: an answer was cut off ({0})", e.Message);
        }
    }

    /// <summary>What <see cref="HttpClusterBootstrapRoutes"/> answers: no members while this node leaves, else the reachable Up, WeaklyUp and Joining ones.</summary>
    private string SeedNodesJson()
    {
        var cluster = Akka.Cluster.Cluster.Get(_system);
        var self = cluster.SelfMember;
        if (self.Status is MemberStatus.Down or MemberStatus.Exiting or MemberStatus.Leaving or MemberStatus.Removed)
            return JsonConvert.SerializeObject(new SeedNodes(self.UniqueAddress.Address, ImmutableList<ClusterMember>.Empty));
        var state = cluster.State;
        var members = state.Members
            .Where(m => !state.Unreachable.Contains(m))
            .Where(m => m.Status is MemberStatus.Up or MemberStatus.WeaklyUp or MemberStatus.Joining)
            .Take(MaxSeedNodesToExpose)
            .Select(m => new ClusterMember(m.UniqueAddress.Address, m.UniqueAddress.Uid, m.Status, m.Roles))
            .ToImmutableList();
        return JsonConvert.SerializeObject(new SeedNodes(self.UniqueAddress.Address, members));
    }
}
