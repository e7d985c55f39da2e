using System.Net;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using Akka.Actor;
using Akka.Event;
using Courier.Auth;
using Courier.Diagnostics;
using Courier.Errors;
using Courier.Internal;
using Courier.Requests.Hosts;

namespace Courier.Requests;

/// <summary>
/// Runs one call: sends attempts, schedules retries on its timers (never sleeping a thread), enforces the
/// per-attempt timeout and the call's deadline, and reports exactly one <see cref="CallResult"/> to its parent.
/// When the call ends it stops, or, made by the coordinator (pooled), it waits in <c>Idle</c> for the coordinator's next
/// call (<see cref="RunCall"/>), with every per-call field set afresh.
/// </summary>
/// <remarks>
/// States: <c>AwaitingToken</c> (the TokenActor is asked), <c>AwaitingPermit</c> (the coordinator's per-host gate is
/// asked: every attempt needs its host's permit, and reports its outcome to the gate when it ends), <c>Sending</c> (an
/// attempt is in flight) and <c>WaitingToRetry</c> (a retry timer is pending).
/// Every timer and every attempt result carries the attempt's number (unique over all the calls the actor runs) or
/// the call's id, so a late answer from an abandoned attempt (timed out, superseded, or of an earlier call) is
/// recognised and dropped; what the coordinator sends about a call always arrives before the actor's next call.
/// Its states are methods switched with <c>Become</c>, kept as <see cref="Receive"/> delegates made once per actor:
/// a <see cref="ReceiveActor"/> builds its handler tables anew for every instance, and <see cref="UntypedActor"/> wraps
/// its receive in a new closure on every <c>Become</c> (bench/RESULTS.md).
/// </remarks>
internal sealed class RequestActor : ActorBase, IWithTimers
{
    private const string RetryTimer = "retry";

    /// <summary>What an idle pooled actor holds instead of its last call, so that call (its body) is not kept alive.</summary>
    private static readonly HttpCall NoCall = new(HttpMethod.Get, new Uri("http://idle.invalid/"));

    private readonly RequestRuntime _runtime;
    private readonly bool _pooled;  // after a call it waits for the next one (RunCall) instead of stopping

    // The call being run: set for each call (Run), every field below included.
    private HttpCall _call;
    private DateTimeOffset _deadlineAt;
    private TimeSpan _deadline;
    private TimeSpan _attemptTimeout;
    private int _maxRetries;
    private long _attemptSeq;       // numbers every attempt this actor ever sends: answers of an earlier call's attempts never match

    private int _attempts;          // requests sent so far (first attempts, retries, auth retries, redirects)
    private int _retries;           // retries after failures, bounded by MaxRetries
    private int _throttles;         // retries after a host asked to slow down: bounded by the deadline, not MaxRetries
    private HostTicket? _ticket;     // the host permit of the attempt in flight, null when none is held
    private string? _pendingToken;  // the access token of the attempt waiting for its permit
    private RetryScheduled? _announce; // a host-paused retry's event, published by the coordinator once the wait is set up
    private int _redirects;
    private long _inFlight;         // the attempt (its _attemptSeq) whose answer we wait for, 0 when none
    private Uri _uri;               // where the next request goes (changes when a redirect is followed)
    private HttpMethod _method;
    private bool _sendBody = true;
    private long _tokenGeneration;  // generation of the token the last request carried, 0 for none
    private long _refusedGeneration; // generation of the last token the server refused, 0 for none
    private int _refusals;          // refusals of the access token so far, bounded by MaxRefreshesPerCall
    private int _refusedStatus;
    private int _lastRetryCost;     // tokens the last retry took from the budget, refunded on success
    private Exception? _lastError;
    private CancellationTokenSource? _attemptCancellation;
    private ICancelable? _attemptTimer;   // see ScheduleTimer
    private ICancelable? _deadlineTimer;  // armed only while waiting for a token
    private bool _finished;
    private CallTelemetry _telemetry;
    private CallTelemetry? _spareTelemetry; // an idle pooled actor's, stopped with its last call: restarted for the next

    public RequestActor(HttpCall call, RequestRuntime runtime, DateTimeOffset submittedAt, HostTicket? firstPermit = null, bool pooled = false)
    {
        _runtime = runtime;
        _pooled = pooled;
        _sending = Sending;
        _waitingToRetry = WaitingToRetry;
        _awaitingToken = AwaitingToken;
        _awaitingPermit = AwaitingPermit;
        _idle = Idle;
        Init(call, submittedAt, firstPermit);
    }

    /// <summary>Takes <paramref name="call"/> as the call to run, with every per-call field set afresh.</summary>
    [System.Diagnostics.CodeAnalysis.MemberNotNull(nameof(_call), nameof(_telemetry), nameof(_uri), nameof(_method))]
    private void Init(HttpCall call, DateTimeOffset submittedAt, HostTicket? firstPermit)
    {
        _ticket = firstPermit;
        _call = _runtime.WithAutomaticIdempotencyKey(call);
        _deadline = call.Deadline ?? _runtime.CallDeadline;
        _deadlineAt = submittedAt + _deadline;
        _attemptTimeout = call.AttemptTimeout ?? _runtime.AttemptTimeout;
        _maxRetries = call.MaxRetries ?? _runtime.MaxRetries;
        if (call.Body is { IsReplayable: false }) _maxRetries = 0; // a one-shot body is sent once (issue 11)
        _telemetry = _spareTelemetry?.Restart(_call, submittedAt, Now, Self) ?? CallTelemetry.Start(_call, _runtime, submittedAt, Now, Self);
        _spareTelemetry = null;
        _uri = call.Uri;
        _method = call.Method;
        _attempts = 0;
        _retries = 0;
        _throttles = 0;
        _pendingToken = null;
        _announce = null;
        _redirects = 0;
        _inFlight = 0;
        _sendBody = true;
        _tokenGeneration = 0;
        _refusedGeneration = 0;
        _refusals = 0;
        _refusedStatus = 0;
        _lastRetryCost = 0;
        _lastError = null;
        _finished = false;
    }

    // The states, as delegates made once per actor (Become with a method group would allocate on every switch; and they
    // are Receive delegates, not UntypedActor's UntypedReceive, which Akka wraps in a new closure on every Become).
    private readonly Receive _sending;
    private readonly Receive _waitingToRetry;
    private readonly Receive _awaitingToken;
    private readonly Receive _awaitingPermit;
    private readonly Receive _idle;

    public ITimerScheduler Timers { get; set; } = null!;

    /// <param name="call">The call.</param>
    /// <param name="runtime">The request path's settings.</param>
    /// <param name="submittedAt">When the coordinator accepted it (the deadline counts from here).</param>
    /// <param name="firstPermit">The host permit of the first attempt when the coordinator granted it with the call
    /// (<see cref="HostGate.TryAdmitAtOnce"/>); null: the first attempt asks for one like every other.</param>
    /// <param name="pooled">True (the coordinator's own actors): after the call the actor waits for the next one
    /// (<see cref="RunCall"/>) instead of stopping.</param>
    public static Props Props(HttpCall call, RequestRuntime runtime, DateTimeOffset submittedAt, HostTicket? firstPermit = null, bool pooled = false) =>
        Internal.FactoryProducer<RequestActor>.Props(() => new RequestActor(call, runtime, submittedAt, firstPermit, pooled));

    // The scheduler's clock, read once per message: a message's handling is one instant (a call answered at once reads it
    // twice instead of eight times; each read is a clock_gettime, several per cent of the runtime's CPU, issue 13).
    private DateTimeOffset _now;
    private bool _nowRead;

    private DateTimeOffset Now
    {
        get
        {
            if (_nowRead) return _now;
            _now = Context.System.Scheduler.Now;
            _nowRead = true;
            return _now;
        }
    }

    protected override bool AroundReceive(Receive receive, object message)
    {
        _nowRead = false;
        return base.AroundReceive(receive, message);
    }

    public override void AroundPreStart()
    {
        _nowRead = false;
        base.AroundPreStart();
    }

    protected override void PreStart() => Start();

    /// <summary>Starts the call set by <see cref="Init"/>.</summary>
    private void Start()
    {
        var remaining = _deadlineAt - Now;
        if (remaining <= TimeSpan.Zero)
        {
            Fail(new HttpCallTimeoutException(_call.Method, _call.Uri, 0, TimeoutKind.Deadline, _deadline, "it waited in the queue past its deadline"), "deadline");
            return;
        }
        // No deadline timer here: each attempt's timer runs to min(attempt timeout, deadline), a retry is never
        // scheduled past the deadline, and only the wait for a token arms the deadline timer. One timer per call
        // instead of two on the common path (bench/RESULTS.md).
        BeginAttempt();
    }

    protected override void PostStop()
    {
        _attemptTimer?.Cancel();
        CancelDeadlineTimer();
        // Aborts an attempt still in flight when the call ends early (cancelled, deadline, shutdown).
        _attemptCancellation?.Cancel();
        _attemptCancellation?.Dispose();
        _telemetry?.Stopped(); // null in an idle pooled actor: its last call was stopped when it ended
    }

    // ---- states -------------------------------------------------------------------------------------------

    /// <summary>The initial behaviour, before the first attempt: only what can arrive that early.</summary>
    protected override bool Receive(object message) => Common(message);

    private bool Sending(object message)
    {
        switch (message)
        {
            case AttemptResponded m when m.Attempt == _inFlight: OnResponse(m); return true;
            case AttemptFaulted m when m.Attempt == _inFlight: OnFault(m); return true;
            case AttemptTimedOut m when m.Attempt == _inFlight: OnAttemptTimeout(m); return true;
            default: return Common(message);
        }
    }

    /// <summary>
    /// A pooled actor between calls: it waits for the next <see cref="RunCall"/>. What is left of the last call (the
    /// answer of an abandoned attempt, a late token or permit) is released or dropped, as in any state.
    /// </summary>
    private bool Idle(object message)
    {
        if (message is not RunCall run) return Common(message, idle: true);
        Init(run.Call, run.SubmittedAt, run.FirstPermit);
        Start();
        return true;
    }

    private bool WaitingToRetry(object message)
    {
        if (message is not RetryNow) return Common(message);
        BeginAttempt();
        return true;
    }

    private bool AwaitingToken(object message)
    {
        switch (message)
        {
            case TokenGranted m when m.CallId == _call.Id:
                CancelDeadlineTimer();
                _telemetry.TokenGranted(m.Generation, Now);
                if (m.Generation <= _refusedGeneration)
                {
                    // The credentials have not moved since the server refused them: sending them again would loop.
                    Fail(new AuthenticationFailedException($"the server refused the access token with {_refusedStatus} again after a refresh",
                        _call.Method, _call.Uri, _attempts), "authentication");
                    return true;
                }
                _tokenGeneration = m.Generation;
                SendAttempt(m.AccessToken);
                return true;
            case TokenUnavailable m when m.CallId == _call.Id:
                Fail(m.Error.ForCall(_call.Method, _call.Uri, _attempts), "authentication");
                return true;
            default:
                return Common(message);
        }
    }

    private bool AwaitingPermit(object message)
    {
        switch (message)
        {
            case AttemptPermitGranted m:
                CancelDeadlineTimer();
                _ticket = m.Ticket;
                var token = _pendingToken;
                _pendingToken = null;
                Transmit(token);
                return true;
            case AttemptPermitRefused m:
                CancelDeadlineTimer();
                Fail(new CircuitOpenException(_method, _uri, _attempts, m.Host.ToString(), m.RetryAt), "circuit_open");
                return true;
            default:
                return Common(message);
        }
    }

    /// <summary>What every state handles the same way (<paramref name="idle"/>: between two calls, nothing to cancel).</summary>
    private bool Common(object message, bool idle = false)
    {
        switch (message)
        {
            case CancelCall when !idle:
                Fail(new HttpCallCanceledException(_call.Method, _call.Uri, _attempts), "cancelled");
                break;
            case DeadlineReached m when !idle && m.CallId == _call.Id:
                FailDeadline();
                break;
            case CancelCall or DeadlineReached:
                break; // of a call that has ended
            // Answers of abandoned attempts and stale timers: release what they hold, nothing else.
            case AttemptResponded m:
                m.Response.Dispose();
                break;
            case AttemptFaulted or AttemptTimedOut or RetryNow or TokenGranted or TokenUnavailable:
                break;
            // A permit that crossed the call's end: the coordinator releases it when the call's report arrives.
            case AttemptPermitGranted or AttemptPermitRefused:
                break;
            default:
                return false; // unhandled (ActorBase publishes it)
        }
        return true;
    }

    // ---- attempts -----------------------------------------------------------------------------------------

    /// <summary>
    /// Gets the access token at send time (never one captured earlier), then sends: the token the TokenActor has
    /// published (<see cref="TokenSnapshot"/>) when there is one it would grant now, newer than one the server refused;
    /// otherwise it asks the TokenActor, which may be refreshing, signed out or loading.
    /// </summary>
    private void BeginAttempt()
    {
        if (_runtime.UsesToken(_call) && SameOrigin(_uri, _call.Uri))
        {
            var route = _runtime.RouteFor(_call)!;
            if (route.Snapshot?.TryGet(Now) is { } snapshot && snapshot.Generation > _refusedGeneration)
            {
                _tokenGeneration = snapshot.Generation;
                SendAttempt(snapshot.AccessToken);
                return;
            }
            // A permit the coordinator granted with the call is not held through a wait for a token (it would hold the
            // host's window): it is given back, and the attempt asks for one when its token has come.
            ReportAttempt(HostOutcome.Ignored);
            AwaitToken(new GetToken(_call.Id));
            return;
        }
        _tokenGeneration = 0;
        SendAttempt(null);
    }

    /// <summary>Asks the TokenActor; the wait (a refresh may be running) is bounded by the call's deadline.</summary>
    private void AwaitToken(object request)
    {
        if (!ArmDeadlineTimer()) return;
        _telemetry.TokenWait(request, Now);
        _runtime.RouteFor(_call)!.Tell(request, Self);
        Become(_awaitingToken);
    }

    /// <summary>Arms the deadline timer for a wait on another actor; false (and the call failed) when the deadline has passed.</summary>
    private bool ArmDeadlineTimer()
    {
        var remaining = _deadlineAt - Now;
        if (remaining <= TimeSpan.Zero)
        {
            FailDeadline();
            return false;
        }
        _deadlineTimer = ScheduleTimer(remaining, new DeadlineReached(_call.Id));
        return true;
    }

    /// <summary>
    /// Asks the coordinator's per-host gate for a permit to send to <c>_uri</c>'s host. The token is fetched first and
    /// kept until the permit comes; the wait (a paused host, a full window, a rate) is bounded by the call's deadline.
    /// </summary>
    private void SendAttempt(string? accessToken)
    {
        if (_ticket is not null)
        {
            Transmit(accessToken); // the first attempt's permit came with the call: no wait, no deadline timer
            return;
        }
        if (!ArmDeadlineTimer()) return;
        _pendingToken = accessToken;
        var announce = _announce;
        _announce = null;
        Context.Parent.Tell(new AttemptPermitRequest(_call.Id, HostKey.From(_uri), announce));
        Become(_awaitingPermit);
    }

    /// <summary>The attempt's end, told to the per-host gate (exactly once per permit).</summary>
    private void ReportAttempt(HostOutcome outcome, TimeSpan? retryAfter = null, HttpResponseMessage? response = null)
    {
        if (TakeAttemptReport(outcome, retryAfter, response) is { } ended) Context.Parent.Tell(ended);
    }

    /// <summary>
    /// The attempt's end for the per-host gate, if it holds a permit; the caller sends it (exactly once per permit). The
    /// quota the <paramref name="response"/> announced goes with it (read only then, and only with Hosts:UseRateLimitHeaders).
    /// </summary>
    private AttemptEnded? TakeAttemptReport(HostOutcome outcome, TimeSpan? retryAfter = null, HttpResponseMessage? response = null)
    {
        if (_ticket is not { } ticket) return null;
        _ticket = null;
        var quota = response is not null && _runtime.ReadRateLimitHeaders ? RateLimitHeaders.Parse(response.Headers, Now) : null;
        return new AttemptEnded(_call.Id, ticket, outcome, retryAfter, Now, quota);
    }

    /// <summary>
    /// A one-shot timer telling this actor <paramref name="message"/>. The scheduler keeps a cancelled registration until
    /// its wheel comes round to it: an actor made for one call is held weakly there (<see cref="WeakTimer"/>), so that it
    /// is not kept alive after its call; a pooled actor lives on after its call anyway, and its timers hold it directly,
    /// with one object per timer (Akka's scheduled tell) instead of a closure, a delegate, its runnable and a finalizable
    /// weak reference (issue 13).
    /// </summary>
    private ICancelable ScheduleTimer(TimeSpan delay, object message) =>
        _pooled
            ? Context.System.Scheduler.ScheduleTellOnceCancelable(delay, Self, message, ActorRefs.NoSender)
            : WeakTimer.ScheduleTellOnce(Context.System.Scheduler, delay, Self, message);

    private void CancelDeadlineTimer()
    {
        _deadlineTimer?.Cancel();
        _deadlineTimer = null;
    }

    private void FailDeadline() =>
        Fail(new HttpCallTimeoutException(_call.Method, _call.Uri, _attempts, TimeoutKind.Deadline, _deadline,
            _lastError is null ? null : "last error: " + _lastError.Message, _lastError), "deadline");

    private void Transmit(string? accessToken)
    {
        HttpRequestMessage request;
        try
        {
            request = BuildRequest(accessToken);
        }
        catch (Exception ex) when (ex is FormatException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            Fail(new InvalidHttpCallException(_call.Method, _call.Uri, ex.Message, ex), "invalid_request");
            return;
        }

        var remaining = _deadlineAt - Now;
        if (remaining <= TimeSpan.Zero)
        {
            request.Dispose();
            FailDeadline();
            return;
        }

        _attempts++;
        _inFlight = ++_attemptSeq;
        _telemetry.AttemptStarted(_attempts, _method, _uri, Now);
        // An attempt that ended with its answer leaves its source uncancelled: the next attempt (of this call or, pooled,
        // of the next) reuses it. One that was cut short (timeout, the call's end) was cancelled: a new one.
        if (_attemptCancellation is null || !_attemptCancellation.TryReset())
        {
            _attemptCancellation?.Dispose();
            _attemptCancellation = new CancellationTokenSource();
        }
        var deadlineFirst = remaining < _attemptTimeout;
        _attemptTimer = ScheduleTimer(deadlineFirst ? remaining : _attemptTimeout, new AttemptTimedOut(_inFlight, deadlineFirst));
        Become(_sending);

        HttpClient client;
        try
        {
            client = _call.IsTransfer ? _runtime.TransferClientSource() : _runtime.ClientSource();
        }
        catch (Exception ex)
        {
            request.Dispose();
            Fail(new RuntimeUnavailableException(_call.Method, _call.Uri, _attempts, "no HttpClient could be created: " + ex.Message, ex), "runtime");
            return;
        }

        using (_telemetry.AttemptScope())
            _ = RunAttemptAsync(Self, client, request, _call.Completion, _inFlight, _runtime.MaxErrorBodyBytes, _attemptCancellation.Token);
    }

    private HttpRequestMessage BuildRequest(string? accessToken)
    {
        var request = new HttpRequestMessage(_method, _uri);
        var crossOrigin = !SameOrigin(_uri, _call.Uri);
        foreach (var (name, value) in _call.Headers)
        {
            // Credentials the caller set never follow a redirect to another origin.
            if (crossOrigin && IsCredentialHeader(name)) continue;
            if (!request.Headers.TryAddWithoutValidation(name, value))
                throw new ArgumentException($"'{name}' is not a request header (content headers belong to the body).");
        }
        if (accessToken is not null)
            request.Headers.TryAddWithoutValidation(_runtime.RouteFor(_call)!.Header, _runtime.RouteFor(_call)!.HeaderValue(accessToken));
        if (_call.Body is not null && _sendBody) request.Content = _call.Body.CreateContent();
        // Issue 11: the caller's version, policy and request options reach the wire.
        (request.Version, request.VersionPolicy) = _runtime.VersionFor(_call, _uri);
        foreach (var (key, value) in _call.RequestOptions) ((IDictionary<string, object?>)request.Options)[key] = value;
        return request;
    }

    private bool IsCredentialHeader(string name) =>
        string.Equals(name, "Authorization", StringComparison.OrdinalIgnoreCase) ||
        string.Equals(name, "Cookie", StringComparison.OrdinalIgnoreCase) ||
        string.Equals(name, "Proxy-Authorization", StringComparison.OrdinalIgnoreCase) ||
        string.Equals(name, _runtime.RouteFor(_call)?.Header ?? _runtime.TokenHeader, StringComparison.OrdinalIgnoreCase);

    /// <summary>RFC 6454 origin: scheme, host and port.</summary>
    private static bool SameOrigin(Uri a, Uri b) =>
        string.Equals(a.Scheme, b.Scheme, StringComparison.OrdinalIgnoreCase) &&
        string.Equals(a.IdnHost, b.IdnHost, StringComparison.OrdinalIgnoreCase) && a.Port == b.Port;

    /// <summary>
    /// Runs outside the actor: it touches no actor state and tells <paramref name="self"/> every outcome as a message. It
    /// never throws, so it tells the actor itself rather than through <c>PipeTo</c> (a second state machine and
    /// continuation per attempt, issue 13).
    /// </summary>
    private static async Task RunAttemptAsync(IActorRef self, HttpClient client, HttpRequestMessage request, HttpCompletionOption completion,
        long attempt, int maxErrorBody, CancellationToken cancellationToken) =>
        self.Tell(await AttemptAsync(client, request, completion, attempt, maxErrorBody, cancellationToken).ConfigureAwait(false), ActorRefs.NoSender);

    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    private static async ValueTask<object> AttemptAsync(HttpClient client, HttpRequestMessage request, HttpCompletionOption completion,
        long attempt, int maxErrorBody, CancellationToken cancellationToken)
    {
        try
        {
            var response = await client.SendAsync(request, completion, cancellationToken).ConfigureAwait(false);
            if (cancellationToken.IsCancellationRequested)
            {
                // The call ended (cancelled, deadline, stopped) while the headers were coming in: nobody will read this
                // response, and with ResponseHeadersRead it would hold its connection until collected.
                response.Dispose();
                return new AttemptFaulted(attempt, new OperationCanceledException(cancellationToken));
            }
            string? errorBody = null;
            if (!response.IsSuccessStatusCode && maxErrorBody > 0)
            {
                try
                {
                    errorBody = await ReadSnippetAsync(response.Content, maxErrorBody, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    errorBody = null; // the status is what matters; a broken error body must not hide it
                }
            }
            return new AttemptResponded(attempt, response, errorBody);
        }
        catch (Exception ex)
        {
            return new AttemptFaulted(attempt, ex);
        }
        finally
        {
            request.Dispose();
        }
    }

    private static async Task<string> ReadSnippetAsync(HttpContent content, int max, CancellationToken cancellationToken)
    {
        var buffer = new byte[max];
        await using var stream = await content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        var total = 0;
        while (total < max)
        {
            var read = await stream.ReadAsync(buffer.AsMemory(total), cancellationToken).ConfigureAwait(false);
            if (read == 0) break;
            total += read;
        }
        return Encoding.UTF8.GetString(buffer, 0, total);
    }

    // ---- outcomes -----------------------------------------------------------------------------------------

    private void OnResponse(AttemptResponded m)
    {
        _telemetry.AttemptEnded(m.Response, Now);
        EndAttempt(abort: false); // it answered: nothing of it is left to cancel
        var response = m.Response;
        var retryAfter = RetryAfter.Parse(response.Headers, Now);
        var hostOutcome = HostOutcomes.FromStatus(response.StatusCode, retryAfter);
        if (response.IsSuccessStatusCode)
        {
            _runtime.Budget.RecordSuccess(_lastRetryCost);
            // The attempt's end goes with the call's report: one message to the coordinator, in the same order.
            Finish(new CallSucceeded(_call.Id, response, _attempts), TakeAttemptReport(hostOutcome, retryAfter, response));
            return;
        }
        ReportAttempt(hostOutcome, retryAfter, response);

        var status = (int)response.StatusCode;
        if (_tokenGeneration > 0 && _runtime.RouteFor(_call) is { } route && route.TriggerStatusCodes.Contains(status))
        {
            response.Dispose();
            if (_call.Body is { IsReplayable: false })
            {
                // Issue 11: a one-shot body cannot be resent with a new token.
                Fail(new AuthenticationFailedException($"the server refused the access token with {status}; the request body is a stream that was sent once and cannot be resent after a refresh",
                    _call.Method, _call.Uri, _attempts), "authentication");
                return;
            }
            OnTokenRefused(status);
            return;
        }
        if (IsRedirect(status) && _runtime.MaxRedirects > 0 && response.Headers.Location is { } location)
        {
            FollowRedirect(status, location, response);
            return;
        }

        var error = new HttpStatusException(_call.Method, _call.Uri, _attempts, response.StatusCode, response.ReasonPhrase, m.ErrorBody);
        response.Dispose();

        if (!_runtime.RetryStatusCodes.Contains(status))
        {
            FailWithStatus(error);
            return;
        }
        if (!_runtime.MayRepeat(_call))
        {
            FailWithStatus(new HttpStatusException(_call.Method, _call.Uri, _attempts, error.StatusCode, error.ReasonPhrase, error.ResponseBody,
                $"not retried: a {_call.Method.Method} without an Idempotency-Key may already have taken effect on the server"));
            return;
        }
        if (retryAfter > _runtime.MaxRetryAfter)
        {
            FailWithStatus(new HttpStatusException(_call.Method, _call.Uri, _attempts, error.StatusCode, error.ReasonPhrase, error.ResponseBody,
                $"not retried: the server asked to wait {retryAfter.Value.TotalSeconds:0.###} s, more than Retry:MaxRetryAfter ({_runtime.MaxRetryAfter.TotalSeconds:0.###} s)"));
            return;
        }
        if (hostOutcome == HostOutcome.Throttled && _runtime.PauseHosts)
        {
            RetryThrottled(error, $"{status} {response.ReasonPhrase}", retryAfter);
            return;
        }
        RetryOrFail(error, $"{status} {response.ReasonPhrase}", retryAfter, afterTimeout: false);
    }

    /// <summary>
    /// The host asked to slow down (429, or 503 with <c>Retry-After</c>): that is not an outage, so the retry spends no
    /// retry budget and does not count towards <c>MaxRetries</c>; the call's deadline bounds it. With a
    /// <c>Retry-After</c>, the gate has paused the host for every call, and the retry asks for its permit at once (it
    /// waits in its host's queue until the pause ends); without one, it waits its own backoff first.
    /// </summary>
    private void RetryThrottled(HttpStatusException error, string reason, TimeSpan? retryAfter)
    {
        _lastError = error;
        _throttles++;
        var pausedByHost = retryAfter is { } named && named > TimeSpan.Zero;
        var wait = pausedByHost ? retryAfter!.Value : _runtime.DelayBeforeRetry(Math.Min(_throttles - 1, 16));
        if (Now + wait >= _deadlineAt)
        {
            Fail(new HttpCallTimeoutException(_call.Method, _call.Uri, _attempts, TimeoutKind.Deadline, _deadline,
                $"the host asked to wait {wait.TotalMilliseconds:0} ms ({reason}), past the deadline", error), "deadline");
            return;
        }
        _telemetry.RetryScheduled(_throttles, _maxRetries, wait, retryAfter, reason + ", throttled", "status", _runtime.Logger);
        if (pausedByHost)
        {
            // The event goes with the permit request, and the coordinator publishes it once the request waits in its
            // host's queue: whoever reacts to it (a test advancing virtual time) finds the host's pause timer armed. A
            // call that ends before it asks (its token wait fails) announces no retry.
            _announce = new RetryScheduled(_call.Id, _call, _throttles, _maxRetries, wait, reason + " (throttled: waits for its host)");
            BeginAttempt();
            return;
        }
        Timers.StartSingleTimer(RetryTimer, RetryNow.Instance, wait);
        Become(_waitingToRetry);
        Context.System.EventStream.Publish(new RetryScheduled(_call.Id, _call, _throttles, _maxRetries, wait, reason + " (throttled)"));
    }

    /// <summary>
    /// The server refused the access token. The first refusal reports the generation used, and the TokenActor refreshes
    /// unless somebody already has. A later one only takes the current token, and only if it is newer than the refused
    /// one (the credentials moved on since, as when a node joins with a pair about to expire): a refusal of the generation
    /// the call was just given ends it, so a call never loops on refresh; at most MaxRefreshesPerCall refusals per call.
    /// </summary>
    private void OnTokenRefused(int status)
    {
        if (_refusals >= _runtime.MaxRefreshesPerCall)
        {
            Fail(new AuthenticationFailedException(_refusals == 0
                    ? $"the server refused the access token with {status} (Courier:MaxRefreshesPerCall is 0)"
                    : $"the server refused the access token with {status} again after {_refusals} refresh(es) (Courier:MaxRefreshesPerCall)",
                _call.Method, _call.Uri, _attempts), "authentication");
            return;
        }
        var first = _refusals == 0;
        _refusals++;
        _refusedStatus = status;
        _refusedGeneration = _tokenGeneration;
        AwaitToken(first ? new TokenRejected(_call.Id, _tokenGeneration) : new GetToken(_call.Id));
    }

    private static bool IsRedirect(int status) => status is 301 or 302 or 303 or 307 or 308;

    private void FollowRedirect(int status, Uri location, HttpResponseMessage response)
    {
        response.Dispose();
        var next = location.IsAbsoluteUri ? location : new Uri(_uri, location);
        if (_redirects >= _runtime.MaxRedirects)
        {
            Fail(new HttpStatusException(_call.Method, _call.Uri, _attempts, (HttpStatusCode)status, null, null,
                $"more than {_runtime.MaxRedirects} redirects (Courier:MaxRedirects)"), "status");
            return;
        }
        if (next.Scheme != Uri.UriSchemeHttp && next.Scheme != Uri.UriSchemeHttps ||
            _uri.Scheme == Uri.UriSchemeHttps && next.Scheme == Uri.UriSchemeHttp)
        {
            Fail(new HttpStatusException(_call.Method, _call.Uri, _attempts, (HttpStatusCode)status, null, null,
                $"a redirect to {SafeUrl.Format(next)} was refused (only http(s), and never from https down to http)"), "status");
            return;
        }
        // RFC 9110 §15.4: 303 turns into GET; so do 301/302 after a POST, as every browser and HttpClient do.
        if (status == 303 && _method != HttpMethod.Head || status is 301 or 302 && _method == HttpMethod.Post)
        {
            _method = HttpMethod.Get;
            _sendBody = false;
        }
        _telemetry.Redirect(status, next);
        _redirects++;
        _uri = next;
        BeginAttempt();
    }

    private void OnFault(AttemptFaulted m)
    {
        _telemetry.AttemptEnded(m.Error, Now);
        EndAttempt(abort: false); // it answered: nothing of it is left to cancel
        var (retryable, reachedServer, reason) = Classify(m.Error);
        ReportAttempt(reason == "invalid request" ? HostOutcome.Ignored : HostOutcomes.FromTransportOrTimeout());
        var error = reason == "invalid request"
            ? (HttpCallException)new InvalidHttpCallException(_call.Method, _call.Uri, m.Error.Message, m.Error)
            : new HttpTransportException(_call.Method, _call.Uri, _attempts, $"{reason} ({m.Error.Message})", m.Error);

        if (!retryable)
        {
            Fail(error, reason == "invalid request" ? "invalid_request" : "transport");
            return;
        }
        if (reachedServer && !_runtime.MayRepeat(_call))
        {
            Fail(new HttpTransportException(_call.Method, _call.Uri, _attempts,
                $"{reason} ({m.Error.Message}); not retried: a {_call.Method.Method} without an Idempotency-Key may already have reached the server", m.Error), "transport");
            return;
        }
        RetryOrFail(error, reason, null, afterTimeout: false);
    }

    private void OnAttemptTimeout(AttemptTimedOut m)
    {
        _telemetry.AttemptTimedOut(Now);
        EndAttempt(abort: true); // its late answer no longer matches _inFlight and is dropped
        // The call's own deadline cut the attempt short: that says nothing about the host.
        ReportAttempt(m.DeadlineFirst ? HostOutcome.Ignored : HostOutcomes.FromTransportOrTimeout());
        if (m.DeadlineFirst)
        {
            FailDeadline();
            return;
        }
        var error = new HttpCallTimeoutException(_call.Method, _call.Uri, _attempts, TimeoutKind.Attempt, _attemptTimeout);
        if (!_runtime.MayRepeat(_call))
        {
            Fail(error, "timeout");
            return;
        }
        RetryOrFail(error, "attempt timed out", null, afterTimeout: true);
    }

    private void RetryOrFail(HttpCallException error, string reason, TimeSpan? retryAfter, bool afterTimeout)
    {
        _lastError = error;
        var retry = _retries; // zero-based number of the retry we would schedule
        if (retry >= _maxRetries)
        {
            if (error is HttpStatusException status) FailWithStatus(status);
            else Fail(error, FailureTag(error));
            return;
        }

        var delay = _runtime.DelayBeforeRetry(retry);
        if (retryAfter is { } wait && wait > delay) delay = wait;

        if (Now + delay >= _deadlineAt)
        {
            Fail(new HttpCallTimeoutException(_call.Method, _call.Uri, _attempts, TimeoutKind.Deadline, _deadline,
                $"the next retry ({reason}) would start {delay.TotalMilliseconds:0} ms from now, after the deadline", error), "deadline");
            return;
        }

        var cost = _runtime.Budget.TryAcquire(afterTimeout);
        if (cost < 0)
        {
            Fail(new RetryBudgetExhaustedException(_call.Method, _call.Uri, _attempts, error), "retry_budget");
            return;
        }
        _lastRetryCost = cost;
        _retries++;

        Timers.StartSingleTimer(RetryTimer, RetryNow.Instance, delay);
        Become(_waitingToRetry);
        _telemetry.RetryScheduled(retry + 1, _maxRetries, delay, retryAfter, reason, FailureTag(error), _runtime.Logger);
        // Published after the timer is set: whoever reacts to it (a test advancing virtual time) finds the retry scheduled.
        Context.System.EventStream.Publish(new RetryScheduled(_call.Id, _call, retry + 1, _maxRetries, delay, reason));
    }

    /// <summary>What an attempt's exception means: may it be retried, and may the request have reached the server?</summary>
    internal static (bool Retryable, bool ReachedServer, string Reason) Classify(Exception error)
    {
        if (error is HttpRequestException http)
        {
            return http.HttpRequestError switch
            {
                // Nothing was sent: always safe to try again, whatever the method.
                HttpRequestError.ConnectionError => (true, false, "connection failed"),
                HttpRequestError.NameResolutionError => (true, false, "name resolution failed"),
                // A certificate or TLS failure does not fix itself between attempts.
                HttpRequestError.SecureConnectionError => (false, false, "TLS handshake failed"),
                // A proxy that refuses the tunnel (407: proxy credentials missing or wrong) refuses the next one too.
                HttpRequestError.ProxyTunnelError => (false, false, "the proxy refused the tunnel"),
                HttpRequestError.UserAuthenticationError or HttpRequestError.ConfigurationLimitExceeded
                    or HttpRequestError.VersionNegotiationError or HttpRequestError.ExtendedConnectNotSupported
                    => (false, false, http.HttpRequestError.ToString()),
                HttpRequestError.ResponseEnded => (true, true, "the response ended early"),
                HttpRequestError.InvalidResponse => (true, true, "invalid response"),
                _ when IsTls(http) => (false, false, "TLS handshake failed"),
                _ when http.StatusCode == HttpStatusCode.ProxyAuthenticationRequired => (false, false, "proxy authentication required"),
                _ => (true, true, "connection lost"),
            };
        }
        return error switch
        {
            AuthenticationException => (false, false, "TLS handshake failed"),
            SocketException { SocketErrorCode: SocketError.ConnectionRefused } => (true, false, "connection refused"),
            IOException or SocketException => (true, true, "connection lost"),
            InvalidOperationException or ArgumentException or UriFormatException or NotSupportedException => (false, false, "invalid request"),
            _ => (false, true, error.GetType().Name),
        };
    }

    private static bool IsTls(Exception error)
    {
        for (var e = error.InnerException; e is not null; e = e.InnerException)
            if (e is AuthenticationException) return true;
        return false;
    }

    private static string FailureTag(HttpCallException error) => error.Failure switch
    {
        HttpCallFailure.Status => "status",
        HttpCallFailure.Timeout => "timeout",
        HttpCallFailure.Transport => "transport",
        HttpCallFailure.InvalidRequest => "invalid_request",
        _ => error.Failure.ToString().ToLowerInvariant(),
    };

    // ---- ending ---------------------------------------------------------------------------------------------

    /// <summary>The attempt in flight ends; <paramref name="abort"/>: it has not answered (timed out), so it is cancelled.</summary>
    private void EndAttempt(bool abort)
    {
        _inFlight = 0;
        _attemptTimer?.Cancel();
        _attemptTimer = null;
        if (abort) _attemptCancellation?.Cancel();
    }

    private void FailWithStatus(HttpStatusException error)
    {
        // The seeds' levels: 4xx is the caller's problem (warning), 5xx the server's (error).
        Log.CallFailedWithStatus(_runtime.Logger, _call, error);
        Fail(error, "status");
    }

    private void Fail(Exception error, string tag)
    {
        _telemetry.Failed(tag);
        Finish(new CallFailed(_call.Id, error, _attempts));
    }

    private void Finish(CallResult result, AttemptEnded? lastAttempt = null)
    {
        if (_finished) return;
        _finished = true;
        var onTheWire = _inFlight != 0; // an attempt has been sent and has not answered or timed out
        _inFlight = 0;
        // Abort an attempt still on the wire (cancelled, deadline) BEFORE the report: the report frees the call's slot,
        // and a freed slot must never coexist with this call's request, or the cap is exceeded. PostStop is too late.
        _attemptTimer?.Cancel();
        if (onTheWire) _attemptCancellation?.Cancel();
        // An attempt cut off by the call's end (cancelled, deadline) frees its host slot; either way with the report.
        lastAttempt ??= TakeAttemptReport(HostOutcome.Ignored);
        _telemetry.Ended(result, Now);
        Context.Parent.Tell(new RequestFinished(result, lastAttempt));
        if (!_pooled)
        {
            Context.Stop(Self);
            return;
        }
        // Between calls nothing of this one stays armed; answers still on their way are dropped by their numbers.
        _attemptTimer = null;
        CancelDeadlineTimer();
        Timers.CancelAll();
        _telemetry.Stopped();
        // Nothing of the ended call is kept while idle: its request (and body), its last error, its telemetry (the
        // object is kept for the next call, with the call it refers to released below).
        _spareTelemetry = _telemetry.Released();
        _telemetry = null!;
        _call = NoCall;
        _lastError = null;
        _pendingToken = null;
        Become(_idle);
    }

    // ---- private protocol ---------------------------------------------------------------------------------

    private sealed record AttemptResponded(long Attempt, HttpResponseMessage Response, string? ErrorBody)
    {
        public override string ToString() => $"AttemptResponded({Attempt}, {(int)Response.StatusCode})";
    }

    private sealed record AttemptFaulted(long Attempt, Exception Error)
    {
        public override string ToString() => $"AttemptFaulted({Attempt}, {Error.GetType().Name})";
    }

    /// <summary>The attempt's timer fired; <paramref name="DeadlineFirst"/>: it was set to the call's deadline, which came first.</summary>
    private sealed record AttemptTimedOut(long Attempt, bool DeadlineFirst);

    private sealed record RetryNow
    {
        public static readonly RetryNow Instance = new();
    }

    /// <summary>The deadline timer of call <paramref name="CallId"/> (a pooled actor tells its calls' timers apart).</summary>
    private sealed record DeadlineReached(long CallId);
}

/// <summary>
/// A RequestActor's one report per call to the coordinator, with the end of the attempt that held a host permit when the
/// call ended (<paramref name="LastAttempt"/>, if any): one message instead of two on the common path, a call answered on
/// its first attempt, so the coordinator (one mailbox for every call) handles two messages per call instead of three.
/// </summary>
internal sealed record RequestFinished(CallResult Result, AttemptEnded? LastAttempt = null);

/// <summary>
/// The coordinator gives a pooled RequestActor, idle since its last call ended, its next call (the first permit as in
/// <see cref="RequestActor.Props"/>).
/// </summary>
internal sealed record RunCall(HttpCall Call, DateTimeOffset SubmittedAt, HostTicket? FirstPermit);
