using Akka.Actor;
using Akka.Configuration;

namespace Courier.Cluster;

/// <summary>
/// How long the cluster can be without a credential owner after the owner's node is lost abruptly (killed, cut off),
/// computed from the cluster's own settings: the time to notice the node is unreachable, the downing delay of the
/// split-brain resolver, the singleton's removal margin before a new owner may start, and the new owner's first
/// majority read.
/// </summary>
/// <remarks>
/// Calls waiting for a token during that gap must not be failed by the refresh timeout: a node keeps them stashed for
/// <see cref="HandOverWait"/>, the longer of <c>RefreshTimeout</c> and this budget (plus a margin), and each call is
/// still bounded by its own deadline. Measured with the defaults (stable-after 20 s, removal margin 20 s) the gap was
/// about 46 s; the budget computes 49 s.
/// </remarks>
public sealed record FailoverBudget(TimeSpan Detection, TimeSpan Downing, TimeSpan RemovalMargin, TimeSpan HandOver)
{
    /// <summary>The slack added on top of the computed gap before calls waiting for a token fail.</summary>
    public static readonly TimeSpan Margin = TimeSpan.FromSeconds(5);

    /// <summary>The whole gap: detection + downing + removal margin + hand-over.</summary>
    public TimeSpan Total => Detection + Downing + RemovalMargin + HandOver;

    /// <summary>How long a node keeps calls stashed while it has no owner: the longer of <paramref name="refreshTimeout"/> and the gap plus <see cref="Margin"/>.</summary>
    public TimeSpan HandOverWait(TimeSpan refreshTimeout) => refreshTimeout >= Total + Margin ? refreshTimeout : Total + Margin;

    /// <summary>Reads the budget from a running actor system's cluster settings.</summary>
    public static FailoverBudget Of(ActorSystem system, ClusteredCredentialsOptions clustered)
    {
        ArgumentNullException.ThrowIfNull(system);
        var cluster = Akka.Cluster.Cluster.Get(system);
        return From(system.Settings.Config, cluster.DowningProvider.DownRemovalMargin, clustered.MajorityTimeout);
    }

    /// <summary>
    /// Computes the budget from configuration. <paramref name="downRemovalMargin"/> is the downing provider's margin
    /// (the split-brain resolver's <c>stable-after</c> when <c>akka.cluster.down-removal-margin</c> is off).
    /// </summary>
    public static FailoverBudget From(Config config, TimeSpan downRemovalMargin, TimeSpan majorityTimeout)
    {
        ArgumentNullException.ThrowIfNull(config);
        var detection = Duration(config, "akka.cluster.failure-detector.heartbeat-interval", 1)
                        + Duration(config, "akka.cluster.failure-detector.acceptable-heartbeat-pause", 3)
                        + Duration(config, "akka.cluster.failure-detector.expected-response-after", 1);
        var sbr = (config.GetString("akka.cluster.downing-provider-class", "") ?? "").Contains("SplitBrainResolver", StringComparison.Ordinal);
        var downing = sbr ? Duration(config, "akka.cluster.split-brain-resolver.stable-after", 20) : downRemovalMargin;
        var singletonMargin = Duration(config, "akka.cluster.singleton.removal-margin", 0);
        var removal = singletonMargin > TimeSpan.Zero ? singletonMargin : downRemovalMargin;
        var handOver = Duration(config, "akka.cluster.singleton.hand-over-retry-interval", 1) + majorityTimeout;
        return new FailoverBudget(detection, downing, removal, handOver);
    }

    private static TimeSpan Duration(Config config, string path, double defaultSeconds)
    {
        if (!config.HasPath(path)) return TimeSpan.FromSeconds(defaultSeconds);
        var text = config.GetString(path, null);
        if (text is null || text.Equals("off", StringComparison.OrdinalIgnoreCase)) return TimeSpan.Zero;
        return config.GetTimeSpan(path, TimeSpan.FromSeconds(defaultSeconds), allowInfinite: false);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"{Total.TotalSeconds:0.#} s (detection {Detection.TotalSeconds:0.#} s: akka.cluster.failure-detector.*; downing {Downing.TotalSeconds:0.#} s: " +
        $"akka.cluster.split-brain-resolver.stable-after; removal margin {RemovalMargin.TotalSeconds:0.#} s: akka.cluster.singleton.removal-margin or " +
        $"akka.cluster.down-removal-margin; hand-over {HandOver.TotalSeconds:0.#} s: akka.cluster.singleton.hand-over-retry-interval + Courier:Cluster:MajorityTimeout)";
}
