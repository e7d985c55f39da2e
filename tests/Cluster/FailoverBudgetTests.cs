using Akka.Configuration;
using Courier.Cluster;

namespace Courier.Tests.Cluster;

/// <summary>The time a node keeps calls waiting while the credential owner's node is lost, derived from the cluster's settings.</summary>
public sealed class FailoverBudgetTests
{
    private const string Sbr = "akka.cluster.downing-provider-class = \"Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster\"\n";

    [Fact]
    public void With_the_split_brain_resolver_defaults_the_gap_is_longer_than_the_default_refresh_timeout()
    {
        // Akka's defaults: heartbeat 1 s + acceptable pause 3 s + expected response 1 s; stable-after 20 s; removal margin
        // = stable-after (down-removal-margin off); hand-over retry 1 s + majority read 3 s. Measured gap: about 46 s.
        var budget = FailoverBudget.From(ConfigurationFactory.ParseString(Sbr + """
            akka.cluster.failure-detector { heartbeat-interval = 1s, acceptable-heartbeat-pause = 3s, expected-response-after = 1s }
            akka.cluster.split-brain-resolver.stable-after = 20s
            akka.cluster.singleton.hand-over-retry-interval = 1s
            """), downRemovalMargin: TimeSpan.FromSeconds(20), majorityTimeout: TimeSpan.FromSeconds(3));

        Assert.Equal(TimeSpan.FromSeconds(5), budget.Detection);
        Assert.Equal(TimeSpan.FromSeconds(20), budget.Downing);
        Assert.Equal(TimeSpan.FromSeconds(20), budget.RemovalMargin);
        Assert.Equal(TimeSpan.FromSeconds(4), budget.HandOver);
        Assert.Equal(TimeSpan.FromSeconds(49), budget.Total);
        // A 30 s refresh timeout would fail the waiting calls before the new owner starts: the wait is stretched.
        Assert.Equal(TimeSpan.FromSeconds(54), budget.HandOverWait(TimeSpan.FromSeconds(30)));
        Assert.Contains("akka.cluster.split-brain-resolver.stable-after", budget.ToString());
    }

    [Fact]
    public void Tuned_settings_shrink_the_gap_and_a_longer_refresh_timeout_is_kept()
    {
        var budget = FailoverBudget.From(ConfigurationFactory.ParseString(Sbr + """
            akka.cluster.failure-detector { heartbeat-interval = 1s, acceptable-heartbeat-pause = 3s, expected-response-after = 1s }
            akka.cluster.split-brain-resolver.stable-after = 5s
            akka.cluster.singleton.removal-margin = 2s
            akka.cluster.singleton.hand-over-retry-interval = 1s
            """), downRemovalMargin: TimeSpan.FromSeconds(5), majorityTimeout: TimeSpan.FromSeconds(3));

        Assert.Equal(TimeSpan.FromSeconds(5 + 5 + 2 + 4), budget.Total);
        Assert.Equal(TimeSpan.FromSeconds(30), budget.HandOverWait(TimeSpan.FromSeconds(30)));
        Assert.Equal(TimeSpan.FromSeconds(21), budget.HandOverWait(TimeSpan.FromSeconds(10)));
    }

    [Fact]
    public void Without_the_split_brain_resolver_the_downing_providers_margin_is_used()
    {
        var budget = FailoverBudget.From(ConfigurationFactory.ParseString("""
            akka.cluster.failure-detector { heartbeat-interval = 2s, acceptable-heartbeat-pause = 6s, expected-response-after = 1s }
            akka.cluster.singleton.removal-margin = off
            """), downRemovalMargin: TimeSpan.FromSeconds(7), majorityTimeout: TimeSpan.FromSeconds(1));

        Assert.Equal(TimeSpan.FromSeconds(9), budget.Detection);
        Assert.Equal(TimeSpan.FromSeconds(7), budget.Downing);
        Assert.Equal(TimeSpan.FromSeconds(7), budget.RemovalMargin);
    }
}
