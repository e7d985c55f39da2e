using System.Diagnostics;
using Courier.Requests;

namespace Courier.Diagnostics;

/// <summary>
/// The traces, metrics and logs of one call, owned by its RequestActor (so touched by one thread at a time): the call's
/// span, the span of the attempt in flight, and the times the histograms need. Times for metrics come from the actor
/// system's scheduler, passed in by the actor; span timestamps are the spans' own (wall clock, like HttpClient's).
/// </summary>
internal sealed class CallTelemetry
{
    // Set for each call (Begin): a pooled RequestActor restarts its one instance for each of its calls (issue 13).
    private HttpCall _call;
    private readonly CourierTelemetry _telemetry;
    private DateTimeOffset _submittedAt;
    private Activity? _span;
    // The metric tags are kept as their values and built when recorded: a TagList field is about 140 bytes inline.
    private string _methodTag;
    private string? _serverAddress;    // made when a metric is recorded (Uri.IdnHost), not for every call
    private Activity? _attempt;
    private DateTimeOffset _attemptStartedAt;
    private string _attemptMethodTag = "";
    private Uri? _attemptUri;
    private int _attemptStatus;        // 0: no status (yet)
    private string? _attemptErrorType;
    private string? _failure;
    private string _tokenRequest = "get";
    private DateTimeOffset _tokenAskedAt;
    private bool _ended;
    private bool _stopped;

    private CallTelemetry(HttpCall call, CourierTelemetry telemetry, DateTimeOffset submittedAt, DateTimeOffset now, Akka.Actor.IActorRef runner)
    {
        _telemetry = telemetry;
        Begin(call, submittedAt, now, runner);
    }

    /// <summary>Sets every per-call field for <paramref name="call"/>, and records its start.</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_call), nameof(_methodTag))]
    private void Begin(HttpCall call, DateTimeOffset submittedAt, DateTimeOffset now, Akka.Actor.IActorRef runner)
    {
        _call = call;
        _submittedAt = submittedAt;
        _span = null;
        _serverAddress = null;
        _attempt = null;
        _attemptStartedAt = default;
        _attemptMethodTag = "";
        _attemptUri = null;
        _attemptStatus = 0;
        _attemptErrorType = null;
        _failure = null;
        _tokenRequest = "get";
        _tokenAskedAt = default;
        _ended = false;
        _stopped = false;
        var telemetry = _telemetry;
        _methodTag = Spans.MethodTag(call.Method);
        var queued = now - submittedAt;
        if (queued < TimeSpan.Zero) queued = TimeSpan.Zero;
        // Each measurement is made only when an instrument has a listener (Enabled), and the span only when the source
        // has one: without them, their tags, the span's name and the wall clock read are work for nobody (issue 13).
        var metrics = telemetry.Metrics;
        if (metrics.QueueWait.Enabled) metrics.QueueWait.Record(queued.TotalSeconds, CallTags);
        if (metrics.ActiveCalls.Enabled) metrics.ActiveCalls.Add(1, CallTags);

        // The span covers the queueing too: it starts when the coordinator accepted the call.
        if (!CourierActivities.Source.HasListeners()) return;
        _span = Spans.Start(CourierActivities.CallOperation, "call " + _methodTag, ActivityKind.Client, call.TraceParent,
            startTime: DateTimeOffset.UtcNow - queued);
        if (_span is null) return;
        CallTraces.Register(call.Id, _span.Context, runner);
        if (!_span.IsAllDataRequested) return;
        SetRequestTags(_span, call.Method, call.Uri);
        _span.SetTag(Tags.CallId, call.Id);
        _span.SetTag(Tags.QueueWait, (long)queued.TotalMilliseconds);
    }

    /// <summary>The call's span, or null when nobody listens to <see cref="CourierActivities.SourceName"/>.</summary>
    public Activity? Span => _span;

    /// <summary>
    /// A call leaves the queue and starts (the RequestActor's constructor; <paramref name="runner"/> is that actor): queue wait,
    /// active calls, the call's span.
    /// </summary>
    public static CallTelemetry Start(HttpCall call, RequestRuntime runtime, DateTimeOffset submittedAt, DateTimeOffset now, Akka.Actor.IActorRef runner) =>
        new(call, runtime.Telemetry, submittedAt, now, runner);

    /// <summary>
    /// Starts a later call of the same RequestActor (pooled) with this instance, whose last call has
    /// <see cref="Stopped"/>: as <see cref="Start"/>, without a new object per call.
    /// </summary>
    /// <exception cref="InvalidOperationException">The last call has not stopped.</exception>
    public CallTelemetry Restart(HttpCall call, DateTimeOffset submittedAt, DateTimeOffset now, Akka.Actor.IActorRef runner)
    {
        if (!_stopped) throw new InvalidOperationException("The telemetry of the last call has not stopped.");
        Begin(call, submittedAt, now, runner);
        return this;
    }

    // ---- the coordinator's part ---------------------------------------------------------------------------------------

    /// <summary>The coordinator accepted a call (before any check).</summary>
    public static void Accepted(RequestRuntime runtime) => runtime.Telemetry.Metrics.Calls.Add(1);

    /// <summary>The coordinator queued a call behind the cap.</summary>
    public static void Queued(RequestRuntime runtime, HttpCall call) => runtime.Telemetry.Metrics.QueuedCalls.Add(1, Tagged(call));

    /// <summary>A queued call left the queue (started, cancelled, or failed at shutdown).</summary>
    public static void Dequeued(RequestRuntime runtime, HttpCall call) => runtime.Telemetry.Metrics.QueuedCalls.Add(-1, Tagged(call));

    /// <summary>
    /// The coordinator answered a call that never started (refused: invalid, queue full, already in flight; cancelled in the
    /// queue; the runtime stopped): the failure counter, the call's duration and outcome, and an error span.
    /// </summary>
    public static void Refused(RequestRuntime runtime, HttpCall call, string reason, DateTimeOffset submittedAt, DateTimeOffset now)
    {
        var metrics = runtime.Telemetry.Metrics;
        metrics.Failed(reason);
        var tags = Tagged(call);
        tags.Add(Tags.Outcome, reason);
        var waited = now - submittedAt;
        if (waited < TimeSpan.Zero) waited = TimeSpan.Zero;
        metrics.CallDuration.Record(waited.TotalSeconds, tags);
        metrics.AttemptsPerCall.Record(0, tags);
        var span = Spans.Start(CourierActivities.CallOperation, "call " + Spans.MethodTag(call.Method), ActivityKind.Client, call.TraceParent,
            startTime: DateTimeOffset.UtcNow - waited);
        if (span is null) return;
        if (span.IsAllDataRequested)
        {
            SetRequestTags(span, call.Method, call.Uri);
            span.SetTag(Tags.CallId, call.Id);
            span.SetTag(Tags.Outcome, reason);
            span.SetTag(Tags.ErrorType, reason);
            span.SetTag(Tags.Attempts, 0);
        }
        span.SetStatus(ActivityStatusCode.Error, reason);
        Spans.Stop(span);
    }

    // ---- attempts -------------------------------------------------------------------------------------------------------

    /// <summary>An attempt is about to be sent to <paramref name="uri"/> (the call's URL, or a redirect's target).</summary>
    public void AttemptStarted(int attempt, HttpMethod method, Uri uri, DateTimeOffset now)
    {
        _telemetry.Metrics.Attempts.Add(1);
        _attemptStartedAt = now;
        _attemptMethodTag = Spans.MethodTag(method);
        _attemptUri = uri;
        _attemptStatus = 0;
        _attemptErrorType = null;
        var parent = _span?.Context ?? _call.TraceParent;
        _attempt = Spans.Start(CourierActivities.AttemptOperation, Spans.MethodTag(method), ActivityKind.Client, parent);
        if (_attempt is null && parent != default)
        {
            // Nobody records our spans, but the caller has a trace: an unrecorded span still carries it downstream.
            _attempt = new Activity(CourierActivities.AttemptOperation);
            _attempt.SetParentId(parent.TraceId, parent.SpanId, parent.TraceFlags);
            _attempt.TraceStateString = parent.TraceState;
            var saved = Activity.Current;
            _attempt.Start();
            Activity.Current = saved;
        }
        if (_attempt is not { IsAllDataRequested: true }) return;
        SetRequestTags(_attempt, method, uri);
        if (attempt > 1) _attempt.SetTag(Tags.ResendCount, attempt - 1);
    }

    /// <summary>
    /// Makes the attempt's span <see cref="Activity.Current"/> until disposed, around the <c>SendAsync</c> call: HttpClient's
    /// own span (or, without one, the <c>traceparent</c> it sends) then belongs to the attempt, hence to the caller's trace.
    /// The send runs on the actor's thread up to its first await, and the async flow it starts keeps the value.
    /// </summary>
    public Scope AttemptScope()
    {
        var saved = Activity.Current;
        Activity.Current = _attempt;
        return new Scope(saved);
    }

    /// <summary>The attempt answered with a status (success or not).</summary>
    public void AttemptEnded(HttpResponseMessage response, DateTimeOffset now)
    {
        var status = (int)response.StatusCode;
        _attemptStatus = status;
        if (status >= 400) _attemptErrorType = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        if (_attempt is { IsAllDataRequested: true } span)
        {
            span.SetTag(Tags.StatusCode, status);
            if (status >= 400) span.SetTag(Tags.ErrorType, status.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
        if (status >= 400) _attempt?.SetStatus(ActivityStatusCode.Error);
        EndAttempt(now);
    }

    /// <summary>The attempt failed with an exception (connection, TLS, a body cut off...).</summary>
    public void AttemptEnded(Exception error, DateTimeOffset now) => AttemptFailed(Spans.ErrorType(error), now);

    /// <summary>The attempt's timer fired before its answer.</summary>
    public void AttemptTimedOut(DateTimeOffset now) => AttemptFailed("timeout", now);

    private void AttemptFailed(string errorType, DateTimeOffset now)
    {
        if (_attempt is null && _attemptStartedAt == default) return;
        _attemptErrorType = errorType;
        if (_attempt is { IsAllDataRequested: true } span) span.SetTag(Tags.ErrorType, errorType);
        _attempt?.SetStatus(ActivityStatusCode.Error, errorType);
        EndAttempt(now);
    }

    private void EndAttempt(DateTimeOffset now)
    {
        if (_attemptStartedAt == default) return;
        var elapsed = now - _attemptStartedAt;
        var duration = _telemetry.Metrics.AttemptDuration;
        if (duration.Enabled) duration.Record(Math.Max(0, elapsed.TotalSeconds), AttemptTags());
        _attemptStartedAt = default;
        Spans.Stop(_attempt);
        _attempt = null;
    }

    // ---- what happens between attempts ---------------------------------------------------------------------------------

    /// <summary>A retry is scheduled: the retries counter, an event on the call's span, a log line.</summary>
    /// <param name="retry">The retry's number (1 for the first).</param>
    /// <param name="maxRetries">The call's limit.</param>
    /// <param name="delay">The delay before it (Retry-After included).</param>
    /// <param name="retryAfter">What the server's Retry-After asked for, if anything.</param>
    /// <param name="reason">A status line or a transport reason: never a URL, header or body.</param>
    /// <param name="tag">The failure kind (<c>status</c>, <c>transport</c>, <c>timeout</c>).</param>
    /// <param name="logger">The request path's logger.</param>
    public void RetryScheduled(int retry, int maxRetries, TimeSpan delay, TimeSpan? retryAfter, string reason, string tag, Microsoft.Extensions.Logging.ILogger logger)
    {
        _telemetry.Metrics.Retried(tag);
        Log.CallRetrying(logger, _call, delay, retry, maxRetries, reason);
        if (_span is not { IsAllDataRequested: true } span) return;
        var tags = new ActivityTagsCollection
        {
            { Tags.RetryNumber, retry }, { Tags.Reason, reason }, { Tags.ErrorType, tag }, { Tags.RetryDelay, (long)delay.TotalMilliseconds },
        };
        if (retryAfter is { } after) tags.Add(Tags.RetryAfter, (long)after.TotalMilliseconds);
        span.AddEvent(new ActivityEvent(CourierActivities.Events.Retry, tags: tags));
    }

    /// <summary>The call asks the TokenActor for a token (<see cref="Auth.GetToken"/>) or reports a refused one (<see cref="Auth.TokenRejected"/>).</summary>
    public void TokenWait(object request, DateTimeOffset now)
    {
        _tokenRequest = request is Auth.TokenRejected ? "rejected" : "get";
        _tokenAskedAt = now;
    }

    /// <summary>
    /// The token of <paramref name="generation"/> arrived (never the token itself). A wait is an event on the call's span when
    /// the call reported a refused token or waited a millisecond or more (a refresh was running); an instant answer is not.
    /// </summary>
    public void TokenGranted(long generation, DateTimeOffset now)
    {
        var waited = now - _tokenAskedAt;
        if (_span is not { IsAllDataRequested: true } span || (_tokenRequest != "rejected" && waited < TimeSpan.FromMilliseconds(1))) return;
        // Stamped when the wait began, so that a timeline reads: wait, refresh, next attempt.
        span.AddEvent(new ActivityEvent(CourierActivities.Events.TokenWait, DateTimeOffset.UtcNow - waited, new ActivityTagsCollection
        {
            { Tags.TokenRequest, _tokenRequest }, { Tags.TokenWaitMs, (long)waited.TotalMilliseconds }, { Tags.TokenGeneration, generation },
        }));
    }

    /// <summary>A redirect with <paramref name="status"/> to <paramref name="target"/> is followed.</summary>
    public void Redirect(int status, Uri target)
    {
        if (_span is not { IsAllDataRequested: true } span) return;
        span.AddEvent(new ActivityEvent(CourierActivities.Events.Redirect,
            tags: new ActivityTagsCollection { { Tags.StatusCode, status }, { Tags.UrlFull, SafeUrl.Format(target) } }));
    }

    // ---- the end -------------------------------------------------------------------------------------------------------

    /// <summary>The call fails with the failure kind <paramref name="tag"/> (the failures counter's reason).</summary>
    public void Failed(string tag)
    {
        _telemetry.Metrics.Failed(tag);
        _failure = tag;
    }

    /// <summary>The call's one answer: its duration, attempts and outcome; the call's span ends.</summary>
    public void Ended(CallResult result, DateTimeOffset now)
    {
        if (_ended) return;
        _ended = true;
        var outcome = result is CallSucceeded ? "success" : _failure ?? "error";
        int? status = result switch
        {
            CallSucceeded ok => (int)ok.Response.StatusCode,
            CallFailed { Error: Errors.HttpStatusException error } => (int)error.StatusCode,
            _ => null,
        };
        if (_attempt is not null) AttemptFailed(outcome, now); // the call ended under a running attempt (cancelled, deadline)

        var metrics = _telemetry.Metrics;
        if (metrics.CallDuration.Enabled || metrics.AttemptsPerCall.Enabled)
        {
            var tags = CallTags;
            tags.Add(Tags.Outcome, outcome);
            if (status is { } s) tags.Add(Tags.StatusClass, Spans.StatusClass(s));
            metrics.CallDuration.Record(Math.Max(0, (now - _submittedAt).TotalSeconds), tags);
            metrics.AttemptsPerCall.Record(result.Attempts, tags);
        }

        if (_span is null) return;
        if (_span.IsAllDataRequested)
        {
            _span.SetTag(Tags.Attempts, result.Attempts);
            _span.SetTag(Tags.Outcome, outcome);
            if (status is { } code) _span.SetTag(Tags.StatusCode, code);
            if (result is CallFailed) _span.SetTag(Tags.ErrorType, status is { } c && outcome == "status" ? c.ToString(System.Globalization.CultureInfo.InvariantCulture) : outcome);
        }
        if (result is CallFailed) _span.SetStatus(ActivityStatusCode.Error, outcome);
        CallTraces.Unregister(_call.Id);
        Spans.Stop(_span);
    }

    /// <summary>The RequestActor stopped (PostStop): the call is no longer active, and a span not yet ended ends now.</summary>
    public void Stopped()
    {
        if (_stopped) return;
        _stopped = true;
        var active = _telemetry.Metrics.ActiveCalls;
        if (active.Enabled) active.Add(-1, CallTags);
        if (_ended) return;
        _ended = true;
        Spans.Stop(_attempt);
        if (_span is null) return;
        _span.SetStatus(ActivityStatusCode.Error, "stopped");
        CallTraces.Unregister(_call.Id);
        Spans.Stop(_span);
    }

    /// <summary>
    /// The call has stopped and its actor keeps this instance for its next call (<see cref="Restart"/>): what refers to
    /// the ended call (the call and its body, its spans) is released now.
    /// </summary>
    public CallTelemetry Released()
    {
        if (!_stopped) throw new InvalidOperationException("The telemetry of the call has not stopped.");
        _call = null!;
        _span = null;
        _attempt = null;
        _attemptUri = null;
        return this;
    }

    // ---- helpers -------------------------------------------------------------------------------------------------------

    private TagList CallTags => new() { { Tags.Method, _methodTag }, { Tags.ServerAddress, _serverAddress ??= ServerAddress(_call.Uri) } };

    /// <summary>The attempt's tags: method, server address, port and scheme, then the status and the error type if any.</summary>
    private TagList AttemptTags()
    {
        var uri = _attemptUri!;
        var tags = new TagList
        {
            { Tags.Method, _attemptMethodTag }, { Tags.ServerAddress, ServerAddress(uri) }, { Tags.ServerPort, uri.IsAbsoluteUri ? uri.Port : 0 },
            { Tags.UrlScheme, uri.IsAbsoluteUri ? uri.Scheme : "" },
        };
        if (_attemptStatus != 0) tags.Add(Tags.StatusCode, _attemptStatus);
        if (_attemptErrorType is not null) tags.Add(Tags.ErrorType, _attemptErrorType);
        return tags;
    }

    private static TagList Tagged(HttpCall call) =>
        new() { { Tags.Method, Spans.MethodTag(call.Method) }, { Tags.ServerAddress, ServerAddress(call.Uri) } };

    private static string ServerAddress(Uri uri) => uri.IsAbsoluteUri ? uri.IdnHost : "";

    private static void SetRequestTags(Activity span, HttpMethod method, Uri uri)
    {
        var known = Spans.MethodTag(method);
        span.SetTag(Tags.Method, known);
        if (known == "_OTHER") span.SetTag("http.request.method_original", method.Method);
        if (uri.IsAbsoluteUri)
        {
            span.SetTag(Tags.ServerAddress, uri.IdnHost);
            span.SetTag(Tags.ServerPort, uri.Port);
            span.SetTag(Tags.UrlScheme, uri.Scheme);
        }
        span.SetTag(Tags.UrlFull, SafeUrl.Format(uri));
    }

    /// <summary>Restores the thread's <see cref="Activity.Current"/> when disposed.</summary>
    public readonly struct Scope(Activity? saved) : IDisposable
    {
        public void Dispose() => Activity.Current = saved;
    }
}
