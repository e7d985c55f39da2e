using System.Diagnostics;
using Courier.Requests;
using Courier.Transfers;
using Microsoft.Extensions.Logging;

namespace Courier.Diagnostics;

/// <summary>
/// The span, metrics and logs of one transfer, owned by its TransferActor. The transfer's span is a child of the caller's
/// <see cref="Activity.Current"/> when the request was made, and the parent of every call the transfer sends; each resume
/// is an event on it. Progress stays on the event stream.
/// </summary>
internal sealed class TransferTelemetry
{
    private readonly CourierTelemetry _telemetry;
    private readonly long _id;
    private readonly TransferDirection _direction;
    private readonly DateTimeOffset _startedAt;
    private readonly Activity? _span;
    private int _resumes;
    private bool _ended;

    private TransferTelemetry(RequestRuntime runtime, long id, TransferDirection direction, ActivityContext parent, DateTimeOffset now)
    {
        _telemetry = runtime.Telemetry;
        Logger = runtime.Telemetry.Transfers ?? new AkkaLogger(runtime.Log);
        _id = id;
        _direction = direction;
        _startedAt = now;
        _span = Spans.Start(CourierActivities.TransferOperation, direction == TransferDirection.Download ? "download" : "upload",
            ActivityKind.Internal, parent);
        if (_span is not { IsAllDataRequested: true } span) return;
        span.SetTag(Tags.TransferId, id);
        span.SetTag(Tags.TransferDirection, DirectionTag);
    }

    /// <summary>The logger of transfers: category <c>Courier.Transfers</c>, or Akka's logging without a logger factory.</summary>
    public ILogger Logger { get; }

    /// <summary>The parent for the transfer's calls: its span, or the caller's context when the span is not recorded.</summary>
    public ActivityContext CallParent { get; private set; }

    private string DirectionTag => _direction == TransferDirection.Download ? "download" : "upload";

    /// <summary>The transfer starts (the TransferActor's PreStart).</summary>
    public static TransferTelemetry Start(RequestRuntime runtime, long id, TransferDirection direction, ActivityContext parent, DateTimeOffset now)
    {
        var telemetry = new TransferTelemetry(runtime, id, direction, parent, now);
        telemetry.CallParent = telemetry._span?.Context ?? parent;
        return telemetry;
    }

    /// <summary>A chunk failed and the transfer resumes from <paramref name="offset"/> after <paramref name="delay"/>.</summary>
    public void Resuming(int retry, int maxRetries, TimeSpan delay, long offset, string reason)
    {
        _resumes++;
        Log.TransferRetrying(Logger, _id, retry, maxRetries, (long)delay.TotalMilliseconds, offset, reason);
        if (_span is not { IsAllDataRequested: true } span) return;
        span.AddEvent(new ActivityEvent(CourierActivities.Events.Resume, tags: new ActivityTagsCollection
        {
            { Tags.RetryNumber, retry }, { Tags.RetryDelay, (long)delay.TotalMilliseconds }, { Tags.TransferFrom, offset }, { Tags.Reason, reason },
        }));
    }

    /// <summary>The transfer fails for good (logged; the end is reported by <see cref="Ended"/>).</summary>
    public void Failed(TransferException error) => Log.TransferFailed(Logger, _id, error.Message);

    /// <summary>The transfer's one result: bytes and duration metrics; the span ends.</summary>
    /// <param name="result">How it ended.</param>
    /// <param name="bytesSoFar">Bytes of the file moved when it did not complete.</param>
    /// <param name="now">The scheduler's time.</param>
    public void Ended(TransferResult result, long bytesSoFar, DateTimeOffset now)
    {
        if (_ended) return;
        _ended = true;
        var (outcome, bytes) = result switch
        {
            TransferCompleted done => ("success", done.Bytes),
            TransferCancelled cancelled => ("cancelled", cancelled.BytesTransferred),
            TransferFailed failed => (failed.Error.Failure.ToString().ToLowerInvariant(), bytesSoFar),
            _ => ("error", bytesSoFar),
        };
        var tags = new TagList { { Tags.TransferDirection, DirectionTag }, { Tags.Outcome, outcome } };
        _telemetry.Metrics.TransferBytes.Add(bytes, tags);
        _telemetry.Metrics.TransferDuration.Record(Math.Max(0, (now - _startedAt).TotalSeconds), tags);
        if (_span is null) return;
        if (_span.IsAllDataRequested)
        {
            _span.SetTag(Tags.Outcome, outcome);
            _span.SetTag(Tags.TransferBytes, bytes);
            _span.SetTag(Tags.TransferResumes, _resumes);
        }
        if (result is not TransferCompleted) _span.SetStatus(ActivityStatusCode.Error, outcome);
        Spans.Stop(_span);
    }
}
