using System.Diagnostics;
using Akka.Actor;

namespace Courier.Diagnostics;

/// <summary>
/// The span and metrics of the TokenActor's refreshes, owned by the TokenActor. A refresh is a root span (it serves every
/// waiting call alike, so it belongs to none of their traces) with a link to each call that waited for it, added as the
/// call starts to wait (<see cref="Activity.AddLink"/>): 100 calls refused at once show as one refresh span with 100 links.
/// </summary>
internal sealed class RefreshTelemetry
{
    private readonly CourierTelemetry _telemetry;
    private Activity? _span;
    private DateTimeOffset _startedAt;
    private string _trigger = "";
    private int _waiting;

    public RefreshTelemetry(ActorSystem system) => _telemetry = CourierTelemetry.For(system);

    /// <summary>The refresh in progress's span, or null.</summary>
    public Activity? Span => _span;

    /// <summary>A refresh starts, from <paramref name="generation"/>, for <paramref name="trigger"/> (rejected, expired, proactive).</summary>
    public void Started(string trigger, long generation, DateTimeOffset now)
    {
        if (_startedAt != default) Ended("superseded", now); // never two at once; defensive
        _startedAt = now;
        _trigger = trigger;
        _waiting = 0;
        _span = Spans.Start(CourierActivities.RefreshOperation, "token refresh", ActivityKind.Internal, default);
        if (_span is not { IsAllDataRequested: true } span) return;
        span.SetTag(Tags.RefreshTrigger, trigger);
        span.SetTag(Tags.TokenGeneration, generation);
    }

    /// <summary>Call <paramref name="callId"/>, run by <paramref name="sender"/>, waits for the refresh in progress: the refresh's span links to the call's.</summary>
    public void Waiting(long callId, IActorRef sender)
    {
        if (_startedAt == default) return;
        _waiting++;
        if (_span is null || !CallTraces.TryGet(callId, sender, out var call)) return;
        _span.AddLink(new ActivityLink(call, new ActivityTagsCollection { { Tags.CallId, callId } }));
    }

    /// <summary>The TokenActor stashes <paramref name="request"/> (a <see cref="Auth.GetToken"/> or <see cref="Auth.TokenRejected"/> from <paramref name="sender"/>) until the refresh ends.</summary>
    public void Waiting(object? request, IActorRef sender)
    {
        switch (request)
        {
            case Auth.GetToken m: Waiting(m.CallId, sender); break;
            case Auth.TokenRejected m: Waiting(m.CallId, sender); break;
        }
    }

    /// <summary>A request to the token endpoint failed and another follows after <paramref name="delay"/>.</summary>
    public void AttemptFailed(int attempt, TimeSpan delay)
    {
        if (_span is not { IsAllDataRequested: true } span) return;
        span.AddEvent(new ActivityEvent(CourierActivities.Events.RefreshRetry, tags: new ActivityTagsCollection
        {
            { Tags.RefreshAttempts, attempt }, { Tags.RetryDelay, (long)delay.TotalMilliseconds },
        }));
    }

    /// <summary>
    /// The refresh ended: <c>refreshed</c>, <c>adopted</c> (a shared pair arrived), <c>failed</c>, <c>timeout</c> or
    /// <c>rejected</c> (the refresh token was refused). Nothing happens when no refresh is in progress.
    /// </summary>
    public void Ended(string outcome, DateTimeOffset now, int attempts = 0, long generation = 0)
    {
        if (_startedAt == default) return;
        var tags = new TagList { { Tags.RefreshTrigger, _trigger }, { Tags.Outcome, outcome } };
        _telemetry.Metrics.RefreshDuration.Record(Math.Max(0, (now - _startedAt).TotalSeconds), tags);
        _startedAt = default;
        if (_span is null) return;
        if (_span.IsAllDataRequested)
        {
            _span.SetTag(Tags.Outcome, outcome);
            _span.SetTag(Tags.Waiting, _waiting);
            if (attempts > 0) _span.SetTag(Tags.RefreshAttempts, attempts);
            if (generation > 0) _span.SetTag(Tags.TokenGeneration, generation);
        }
        if (outcome is not ("refreshed" or "adopted")) _span.SetStatus(ActivityStatusCode.Error, outcome);
        Spans.Stop(_span);
        _span = null;
    }
}
