using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Courier.Diagnostics;

namespace Courier.Host.Cli;

/// <summary>
/// <c>request --trace</c>: records the runtime's spans while the command runs, then renders one call's span tree as a small
/// timeline: the call, each attempt with its status and duration, the retries and token waits (events on the call), and the
/// refresh the call waited for (a span of its own, found by its link to the call). Offsets are from the call's start.
/// </summary>
internal sealed class TraceTimeline : IDisposable
{
    private readonly ActivityListener _listener;
    private readonly ConcurrentQueue<Activity> _spans = new();

    public TraceTimeline()
    {
        _listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == CourierActivities.SourceName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _spans.Enqueue,
        };
        ActivitySource.AddActivityListener(_listener);
    }

    /// <summary>The timeline of call <paramref name="callId"/>, once its span has ended (the call's answer comes first: wait briefly).</summary>
    public async Task<string> RenderAsync(long callId, CancellationToken cancellationToken)
    {
        for (var i = 0; i < 50 && FindCall(callId) is null; i++) await Task.Delay(10, cancellationToken);
        return FindCall(callId) is { } call ? Render(call, _spans.ToList()) : $"(no trace recorded for call {callId})";
    }

    private Activity? FindCall(long callId) =>
        _spans.FirstOrDefault(s => s.OperationName == CourierActivities.CallOperation && s.GetTagItem("courier.call.id") is long id && id == callId);

    /// <summary>Renders <paramref name="call"/> and what belongs to it among <paramref name="spans"/>.</summary>
    internal static string Render(Activity call, IReadOnlyCollection<Activity> spans)
    {
        var start = call.StartTimeUtc;
        var entries = new List<(DateTime At, string Text)>();
        foreach (var attempt in spans.Where(s => s.ParentSpanId == call.SpanId && s.TraceId == call.TraceId && s.OperationName == CourierActivities.AttemptOperation))
        {
            var number = attempt.GetTagItem("http.request.resend_count") is int resend ? resend + 1 : 1;
            var outcome = attempt.GetTagItem("http.response.status_code") is int status ? status.ToString(CultureInfo.InvariantCulture)
                : attempt.GetTagItem("error.type") as string ?? "?";
            entries.Add((attempt.StartTimeUtc, $"attempt {number}  {attempt.GetTagItem("url.full")}  → {outcome}  ({Ms(attempt.Duration)})"));
        }
        foreach (var e in call.Events)
        {
            var tags = e.Tags.ToDictionary(t => t.Key, t => t.Value);
            var line = e.Name switch
            {
                CourierActivities.Events.Retry => $"retry {tags.GetValueOrDefault("courier.retry.number")} in {tags.GetValueOrDefault("courier.retry.delay_ms")} ms: {tags.GetValueOrDefault("courier.reason")}"
                    + (tags.TryGetValue("courier.retry.retry_after_ms", out var after) ? $" (Retry-After {after} ms)" : ""),
                CourierActivities.Events.TokenWait => $"token wait ({tags.GetValueOrDefault("courier.token.request")}) {tags.GetValueOrDefault("courier.token.wait_ms")} ms → generation {tags.GetValueOrDefault("courier.token.generation")}",
                CourierActivities.Events.Redirect => $"redirect {tags.GetValueOrDefault("http.response.status_code")} → {tags.GetValueOrDefault("url.full")}",
                _ => e.Name,
            };
            entries.Add((e.Timestamp.UtcDateTime, line));
        }
        foreach (var refresh in spans.Where(s => s.OperationName == CourierActivities.RefreshOperation && s.Links.Any(l => l.Context.SpanId == call.SpanId)))
        {
            entries.Add((refresh.StartTimeUtc, $"token refresh ({refresh.GetTagItem("courier.refresh.trigger")}) → {refresh.GetTagItem("courier.outcome")}, "
                + $"{refresh.GetTagItem("courier.refresh.waiting")} call(s) waited, {refresh.Links.Count()} linked  ({Ms(refresh.Duration)})  [trace {refresh.TraceId}]"));
        }

        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"trace {call.TraceId}\n");
        text.Append(CultureInfo.InvariantCulture, $"{Ms(TimeSpan.Zero),8}  {call.DisplayName} {call.GetTagItem("url.full")}  → {call.GetTagItem("courier.outcome")}, "
            + $"{call.GetTagItem("courier.call.attempts")} attempt(s)  ({Ms(call.Duration)}, queued {call.GetTagItem("courier.queue.wait_ms")} ms)\n");
        var ordered = entries.OrderBy(e => e.At).ToList();
        for (var i = 0; i < ordered.Count; i++)
            text.Append(CultureInfo.InvariantCulture, $"{Ms(ordered[i].At - start),8}  {(i == ordered.Count - 1 ? "└─" : "├─")} {ordered[i].Text}\n");
        return text.ToString();
    }

    private static string Ms(TimeSpan time) => $"{Math.Max(0, time.TotalMilliseconds):0} ms";

    public void Dispose() => _listener.Dispose();
}
