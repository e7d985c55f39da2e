using System.Globalization;
using Akka.Actor;
using Akka.Cluster;
using Akka.Configuration;
using Courier;
using Courier.Auth;
using Courier.Cluster;
using Courier.Requests;

// One node of a clustered runtime in its own process, driven over stdin/stdout by the multi-process tests.
//
//   Courier.ClusterNode --sandbox URL --access TOKEN --refresh TOKEN
//                       (--seed self|akka.tcp://... | --bootstrap HOST:PORT,HOST:PORT,... --management-port PORT)
//                       [--stable-after 5s] [--refresh-timeout 30s]
//
// --bootstrap joins through Akka.Management's Cluster Bootstrap with config discovery (Courier:Cluster:Bootstrap): the
// list is every node's management endpoint, this node's (127.0.0.1:PORT) included; no seed node is named.
//
// stdout: "address A" once remoting is bound, "ready G" once the node is Up and serves generation G, "generation G"
//         each time it adopts a refreshed pair,
//         "progress OK FAILED" every 250 ms while traffic runs, "error MESSAGE" (at most 5), "result OK FAILED".
// stdin:  "go SECONDS WORKERS" runs paced calls to /secure/steady for that long; "storm N" starts N calls to
//         /secure/storm at once and answers when all ended (the cluster-storm benchmark's failover row); "members" answers "members A,B,..." (the
//         Up members this node sees, sorted); "leave" leaves gracefully and exits;
//         end of input exits.
// The cluster settings are the ones docs/scaling-out.md recommends (split-brain resolver, keep-majority).
var arguments = Arguments.Parse(args);
var hocon = $$"""
    akka {
      loglevel = {{Environment.GetEnvironmentVariable("COURIER_NODE_LOGLEVEL") ?? "WARNING"}}
      log-dead-letters = off
      log-dead-letters-during-shutdown = off
      actor.provider = cluster
      remote.dot-netty.tcp { hostname = 127.0.0.1, port = 0 }
      coordinated-shutdown.exit-clr = off
      cluster {
        downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
        split-brain-resolver { active-strategy = keep-majority, stable-after = {{arguments.StableAfter}} }
        singleton-proxy.log-singleton-identification-failure = off
      }
    }
    """;
var clustered = new ClusteredCredentialsOptions();
var config = ConfigurationFactory.ParseString(hocon);
if (arguments.Bootstrap is { } contactPoints)
{
    clustered.Bootstrap = new BootstrapOptions
    {
        ServiceName = "courier-fleet",
        ContactPoints = [.. contactPoints],
        RequiredContactPoints = contactPoints.Count,
        ManagementHostName = "127.0.0.1",
        ManagementPort = arguments.ManagementPort,
        // Every node starts at once here: a short stable margin and probe interval form the cluster in a few seconds.
        StableMargin = TimeSpan.FromSeconds(1),
        ProbeInterval = TimeSpan.FromSeconds(1),
    };
    config = FleetBootstrap.Config(clustered.Bootstrap).WithFallback(config);
}
using var system = ActorSystem.Create("courier-fleet", config);
var cluster = Akka.Cluster.Cluster.Get(system);
var output = new object();
void Say(string line)
{
    lock (output) Console.Out.WriteLine(line);
}

Say("address " + cluster.SelfAddress);

var options = new HttpRuntimeOptions { MaxConcurrentCalls = 256 };
options.Auth = new TokenOptions
{
    RefreshEndpoint = new Uri(arguments.Sandbox, "/auth/refresh"),
    AccessToken = arguments.Access,
    RefreshToken = arguments.Refresh,
    RefreshTimeout = arguments.RefreshTimeout,
};
var handler = HttpRuntime.CreatePrimaryHandler(options);
var http = new HttpClient(handler, disposeHandler: false) { Timeout = Timeout.InfiniteTimeSpan };
var actors = ClusteredHttpRuntime.StartActors(system, options, clustered, () => http, http);
var client = new HttpRuntimeClient(actors, options);
// Every refreshed pair this node adopts, whoever refreshed it: the kill test waits for one to reach the survivors.
system.EventStream.Subscribe(system.ActorOf(Props.Create(typeof(GenerationReporter), (Action<string>)Say)), typeof(TokenRefreshed));

var up = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
cluster.RegisterOnMemberUp(() => up.TrySetResult());
if (clustered.Bootstrap is not null) await FleetBootstrap.StartAsync(system);
else cluster.Join(arguments.Seed == "self" ? cluster.SelfAddress : Address.Parse(arguments.Seed!));
await up.Task.WaitAsync(TimeSpan.FromSeconds(60));
var served = await actors.Tokens!.Ask<object>(new GetToken(-1), TimeSpan.FromSeconds(60));
Say("ready " + (served is TokenGranted granted ? granted.Generation.ToString(CultureInfo.InvariantCulture) : served.ToString()));

while (await Console.In.ReadLineAsync() is { } command)
{
    var parts = command.Split(' ', StringSplitOptions.RemoveEmptyEntries);
    if (parts is ["go", var seconds, var workers])
    {
        var (ok, failed, errors) = await RunTrafficAsync(TimeSpan.FromSeconds(double.Parse(seconds, CultureInfo.InvariantCulture)),
            int.Parse(workers, CultureInfo.InvariantCulture));
        foreach (var error in errors) Say("error " + error.ReplaceLineEndings(" "));
        Say($"result {ok} {failed}");
    }
    else if (parts is ["storm", var count])
    {
        var (ok, failed, errors) = await RunStormAsync(int.Parse(count, CultureInfo.InvariantCulture));
        foreach (var error in errors) Say("error " + error.ReplaceLineEndings(" "));
        Say($"result {ok} {failed}");
    }
    else if (parts is ["members"])
    {
        var members = cluster.State.Members.Where(m => m.Status == MemberStatus.Up).Select(m => m.Address.ToString()).Order(StringComparer.Ordinal);
        Say("members " + string.Join(',', members));
    }
    else if (parts is ["leave"])
    {
        await CoordinatedShutdown.Get(system).Run(CoordinatedShutdown.ClusterLeavingReason.Instance);
        break;
    }
}

handler.Dispose();
return 0;

async Task<(long Ok, long Failed, IReadOnlyList<string> Errors)> RunStormAsync(int calls)
{
    long ok = 0, failed = 0;
    var errors = new List<string>();
    var url = new Uri(arguments.Sandbox, "/secure/storm");
    await Task.WhenAll(Enumerable.Range(0, calls).Select(async _ =>
    {
        var outcome = await client.ExecuteAsync(HttpCall.Get(url));
        Count(outcome, ref ok, ref failed, errors);
    }));
    return (ok, failed, errors);
}

void Count(CallResult outcome, ref long ok, ref long failed, List<string> errors)
{
    if (outcome is CallSucceeded succeeded)
    {
        succeeded.Response.Dispose();
        Interlocked.Increment(ref ok);
        return;
    }
    Interlocked.Increment(ref failed);
    lock (errors)
        if (errors.Count < 5) errors.Add(((CallFailed)outcome).Error.Message);
}

async Task<(long Ok, long Failed, IReadOnlyList<string> Errors)> RunTrafficAsync(TimeSpan duration, int workers)
{
    long ok = 0, failed = 0;
    var errors = new List<string>();
    var url = new Uri(arguments.Sandbox, "/secure/steady");
    using var stop = new CancellationTokenSource(duration);
    using var progress = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
    var reporter = Task.Run(async () =>
    {
        try
        {
            while (await progress.WaitForNextTickAsync(stop.Token)) Say($"progress {Interlocked.Read(ref ok)} {Interlocked.Read(ref failed)}");
        }
        catch (OperationCanceledException)
        {
        }
    });
    await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(async () =>
    {
        using var pace = new PeriodicTimer(TimeSpan.FromMilliseconds(20));
        while (!stop.IsCancellationRequested)
        {
            // A call once started runs to its own end (its deadline): the stop only ends the loop.
            Count(await client.ExecuteAsync(HttpCall.Get(url)), ref ok, ref failed, errors);
            try
            {
                await pace.WaitForNextTickAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
        }
    })));
    await reporter;
    return (ok, failed, errors);
}

/// <summary>Prints "generation G" for every <see cref="TokenRefreshed"/> on the node's event stream.</summary>
internal sealed class GenerationReporter : ReceiveActor
{
    public GenerationReporter(Action<string> say) =>
        Receive<TokenRefreshed>(m => say("generation " + m.Generation.ToString(CultureInfo.InvariantCulture)));
}

internal sealed record Arguments(Uri Sandbox, string Access, string Refresh, string? Seed, IReadOnlyList<string>? Bootstrap, int ManagementPort,
    string StableAfter, TimeSpan RefreshTimeout)
{
    public static Arguments Parse(string[] args)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        for (var i = 0; i + 1 < args.Length; i += 2) values[args[i]] = args[i + 1];
        string Required(string name) => values.TryGetValue(name, out var v) ? v : throw new ArgumentException($"missing {name}");
        var bootstrap = values.GetValueOrDefault("--bootstrap")?.Split(',', StringSplitOptions.RemoveEmptyEntries);
        var seed = values.GetValueOrDefault("--seed");
        if ((seed is null) == (bootstrap is null)) throw new ArgumentException("give --seed or --bootstrap");
        return new Arguments(new Uri(Required("--sandbox")), Required("--access"), Required("--refresh"), seed, bootstrap,
            bootstrap is null ? 0 : int.Parse(Required("--management-port"), CultureInfo.InvariantCulture),
            values.GetValueOrDefault("--stable-after", "5s"),
            TimeSpan.FromSeconds(double.Parse(values.GetValueOrDefault("--refresh-timeout", "30"), CultureInfo.InvariantCulture)));
    }
}
