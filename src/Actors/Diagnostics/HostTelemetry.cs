using System.Diagnostics;
using System.Diagnostics.Metrics;
using Courier.Requests.Hosts;

namespace Courier.Diagnostics;

/// <summary>
/// The per-host gate's metrics (issue 10), on the runtime's meter: pauses and paused time, the adaptive window, the
/// learned rate, circuit transitions and calls waiting for their host. Tagged only with <c>server.address</c> and
/// <c>server.port</c> (OpenTelemetry's HTTP conventions): one series per host, never per call or path. Recorded by the
/// request coordinator when a host's state changes, so the pure table (<see cref="HostPolicies"/>) is never read from
/// another thread, as an observable gauge would.
/// </summary>
internal sealed class HostTelemetry
{
    private readonly Counter<long> _pauses;
    private readonly Counter<double> _pausedTime;
    private readonly Gauge<int> _limit;
    private readonly Gauge<double> _learnedRate;
    private readonly Counter<long> _circuitTransitions;
    private readonly UpDownCounter<long> _waiting;

    public HostTelemetry(Meter meter)
    {
        _pauses = meter.CreateCounter<long>("courier.host.pauses", "{pause}", "Times a host was paused for every call (429, or 503 with Retry-After)");
        _pausedTime = meter.CreateCounter<double>("courier.host.paused_time", "s", "Time hosts were paused (each pause counted when it starts or is extended)");
        _limit = meter.CreateGauge<int>("courier.host.limit", "{call}", "A host's window of calls in flight (the adaptive limit, or the cap)");
        _learnedRate = meter.CreateGauge<double>("courier.host.learned_rate", "{call}/s", "A host's rate learned from its throttling (Hosts:AdaptiveRate)");
        _circuitTransitions = meter.CreateCounter<long>("courier.host.circuit.transitions", "{transition}",
            "A host's circuit breaker changed state (tagged with the state it entered: open, half_open, closed)");
        _waiting = meter.CreateUpDownCounter<long>("courier.host.waiting_calls", "{call}", "Calls waiting for their host (a pause, the window, a rate or a probe)");
    }

    /// <summary>A call started or stopped waiting for <paramref name="host"/>.</summary>
    public void Waiting(HostKey host, int delta)
    {
        if (_waiting.Enabled) _waiting.Add(delta, Tags(host));
    }

    /// <summary>The circuit of <paramref name="host"/> let a probe through (open to half-open).</summary>
    public void ProbeAdmitted(HostKey host) => Transition(host, CircuitState.HalfOpen);

    /// <summary>Compares a host's state before and after an outcome at <paramref name="now"/>, and records what changed.</summary>
    public void Changed(HostKey host, in HostGauges before, in HostGauges after, DateTimeOffset now)
    {
        if (before == after) return; // the common case: a success that changed nothing
        var tags = Tags(host);
        var pausedFrom = before.PausedUntil > now ? before.PausedUntil : now;
        if (after.PausedUntil > pausedFrom)
        {
            if (before.PausedUntil <= now) _pauses.Add(1, tags);
            _pausedTime.Add((after.PausedUntil - pausedFrom).TotalSeconds, tags);
        }
        if (after.Limit != before.Limit) _limit.Record(after.Limit, tags);
        if (after.LearnedRate is { } rate && rate != before.LearnedRate) _learnedRate.Record(rate, tags);
        if (after.Circuit != before.Circuit) Transition(host, after.Circuit);
    }

    private void Transition(HostKey host, CircuitState state)
    {
        var tags = Tags(host);
        tags.Add("courier.circuit.state", state switch
        {
            CircuitState.Open => "open",
            CircuitState.HalfOpen => "half_open",
            _ => "closed",
        });
        _circuitTransitions.Add(1, tags);
    }

    private static TagList Tags(HostKey host) => new() { { Diagnostics.Tags.ServerAddress, host.Host }, { Diagnostics.Tags.ServerPort, host.Port } };
}
