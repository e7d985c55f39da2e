using System.Net;
using Akka.Actor;
using Akka.Event;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// What the three transfer actors share: every HTTP call goes through the <see cref="RequestCoordinator"/> (so tokens,
/// 401 refreshes, redirects and timeouts are the request path's), every file operation runs as a task piped back as a
/// message (the actor never blocks), retries use the request path's backoff and budget, progress is throttled by a
/// <see cref="ProgressMeter"/>, and the end is reported once: events, then the parent, then the actor stops.
/// </summary>
/// <remarks>
/// At most one call and one file operation are outstanding at a time. Ending (completion, failure, cancellation) first
/// cancels both and waits for their answers, so no file handle or response is ever released while a task still uses it,
/// then runs <see cref="ReleaseAsync"/>, then reports.
/// </remarks>
internal abstract class TransferActor : ReceiveActor, IWithTimers
{
    private const string RetryTimer = "retry";
    private const string StallTimer = "stall";
    private const string TickTimer = "tick";

    private readonly IProgress<TransferProgress>? _progress;
    private readonly string _description;
    private long _callId;                   // the call whose answer we wait for, 0 when none
    private bool _ioBusy;
    private bool _stalled;
    private long _activityAtWatch;
    private CancellationTokenSource? _ioCancel;
    private int _retries;                   // retries since bytes last moved forward
    private int _retryCost;
    private TransferResult? _ending;
    private bool _released;
    private DateTimeOffset _startedAt;
    private Diagnostics.TransferTelemetry _telemetry = null!;

    protected TransferActor(long id, TransferDirection direction, TransferRuntime runtime, IProgress<TransferProgress>? progress, string description)
    {
        Id = id;
        Direction = direction;
        Runtime = runtime;
        _progress = progress;
        _description = description;
        Meter = new ProgressMeter(id, direction, runtime.ProgressInterval, runtime.ProgressStep, runtime.RateWindow, Now, 0);

        Receive<CallResult>(OnCallResult);
        Receive<IoDone>(OnIoDone);
        Receive<IoFailed>(OnIoFailed);
        Receive<RetryNow>(_ => { if (!Ending) OnRetry(); });
        Receive<StallDetected>(_ =>
        {
            if (!_ioBusy) return;
            if (Activity != _activityAtWatch)
            {
                // Bytes moved since the timer was set: a slow link, not a stalled one.
                _activityAtWatch = Activity;
                Timers.StartSingleTimer(StallTimer, StallDetected.Instance, Runtime.StallTimeout);
                return;
            }
            _stalled = true;
            _ioCancel?.Cancel();
        });
        Receive<Tick>(_ => { if (!Ending) OnTick(); });
        Receive<CancelTransfer>(_ => End(new TransferCancelled(Id, Direction, Meter.Last?.BytesTransferred ?? 0, PartialPath)));
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected long Id { get; }
    protected TransferDirection Direction { get; }
    protected TransferRuntime Runtime { get; }
    protected ProgressMeter Meter { get; }
    protected DateTimeOffset Now => Context.System.Scheduler.Now;
    protected bool Ending => _ending is not null;

    /// <summary>A count that moves whenever bytes move inside a long operation (read by the stall watch between messages).</summary>
    protected virtual long Activity => 0;

    /// <summary>The caller's span when the transfer was requested (the transfer's span is its child), or default.</summary>
    protected virtual System.Diagnostics.ActivityContext TraceParent => default;

    /// <summary>The file kept for a resume if the transfer stops now (reported by <see cref="TransferCancelled"/>), or null.</summary>
    protected abstract string? PartialPath { get; }

    protected override void PreStart()
    {
        _startedAt = Now;
        _telemetry = Diagnostics.TransferTelemetry.Start(Runtime.Requests, Id, Direction, TraceParent, _startedAt);
        Meter.Restart(_startedAt, 0);
        Context.System.EventStream.Publish(new TransferStarted(Id, Direction, _description));
        Start();
    }

    protected override void PostStop()
    {
        _ioCancel?.Cancel();
        _ioCancel?.Dispose();
        if (!_released) ReleaseNow(); // only after a crash: the orderly path released asynchronously
    }

    // ---- what subclasses implement -------------------------------------------------------------------------

    protected abstract void Start();

    /// <summary>A 2xx answer to the call in flight. The response is the subclass's to dispose.</summary>
    protected abstract void OnResponse(HttpResponseMessage response);

    /// <summary>The call in flight failed (its error is an <see cref="HttpCallException"/>).</summary>
    protected abstract void OnCallFailed(Exception error);

    /// <summary>A file operation finished with <paramref name="result"/>.</summary>
    protected abstract void OnIo(object? result);

    /// <summary>A file operation failed (a stall shows up as a <see cref="TimeoutException"/>).</summary>
    protected abstract void OnIoError(Exception error);

    /// <summary>A retry timer fired.</summary>
    protected abstract void OnRetry();

    /// <summary>The periodic progress timer fired (see <see cref="StartTicking"/>).</summary>
    protected virtual void OnTick()
    {
    }

    /// <summary>An operation's result arrived after the transfer started ending: keep what it holds so that <see cref="ReleaseAsync"/> frees it.</summary>
    protected virtual void Adopt(object? result)
    {
    }

    /// <summary>Frees files and responses at the end; <paramref name="result"/> says how it ended.</summary>
    protected abstract Task ReleaseAsync(TransferResult result);

    /// <summary>Last-resort synchronous release after a crash.</summary>
    protected abstract void ReleaseNow();

    // ---- calls --------------------------------------------------------------------------------------------------

    /// <summary>
    /// A call of this transfer: no retries of its own (the transfer retries, resuming where it stopped), the runtime's
    /// token unless <paramref name="anonymous"/>, the caller's headers first.
    /// </summary>
    protected HttpCall NewCall(HttpMethod method, Uri uri, IReadOnlyList<KeyValuePair<string, string>> callerHeaders, bool anonymous,
        params ReadOnlySpan<KeyValuePair<string, string>> headers)
    {
        var all = new List<KeyValuePair<string, string>>(callerHeaders.Count + headers.Length);
        all.AddRange(callerHeaders);
        foreach (var header in headers) all.Add(header);
        return new HttpCall(method, uri) { Headers = all, Anonymous = anonymous, MaxRetries = 0, TraceParent = _telemetry.CallParent };
    }

    protected void Send(HttpCall call)
    {
        _callId = call.Id;
        Runtime.Calls.Tell(new ExecuteCall(call));
    }

    private void OnCallResult(CallResult result)
    {
        if (result.CallId != _callId)
        {
            (result as CallSucceeded)?.Response.Dispose(); // an answer we no longer wait for
            return;
        }
        _callId = 0;
        if (Ending)
        {
            (result as CallSucceeded)?.Response.Dispose();
            Drain();
            return;
        }
        switch (result)
        {
            case CallSucceeded ok:
                OnResponse(ok.Response);
                break;
            case CallFailed failed:
                OnCallFailed(failed.Error);
                break;
        }
    }

    // ---- file operations ----------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="work"/> off the actor and delivers its result to <see cref="OnIo"/>. The work must touch no actor
    /// state: it gets what it needs as arguments and returns what the actor should see. With <paramref name="watchStall"/>
    /// it is cancelled (and reported as a <see cref="TimeoutException"/>) if it runs longer than the stall timeout.
    /// </summary>
    protected void RunIo(Func<CancellationToken, Task<object?>> work, bool watchStall = false)
    {
        _ioBusy = true;
        _stalled = false;
        _ioCancel?.Dispose();
        _ioCancel = new CancellationTokenSource();
        if (watchStall)
        {
            _activityAtWatch = Activity;
            Timers.StartSingleTimer(StallTimer, StallDetected.Instance, Runtime.StallTimeout);
        }
        Task<object?> task;
        try
        {
            task = work(_ioCancel.Token);
        }
        catch (Exception ex)
        {
            task = Task.FromException<object?>(ex);
        }
        task.PipeTo(Self, success: static result => new IoDone(result), failure: static error => new IoFailed(error));
    }

    private void OnIoDone(IoDone message)
    {
        _ioBusy = false;
        Timers.Cancel(StallTimer);
        if (Ending)
        {
            Adopt(message.Result);
            Drain();
            return;
        }
        OnIo(message.Result);
    }

    private void OnIoFailed(IoFailed message)
    {
        _ioBusy = false;
        Timers.Cancel(StallTimer);
        if (Ending)
        {
            Drain();
            return;
        }
        var error = message.Error is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : message.Error;
        if (_stalled) error = new TimeoutException($"no data for {Runtime.StallTimeout.TotalSeconds:0.###} s (Transfers:StallTimeout)", error);
        OnIoError(error);
    }

    // ---- retries and progress -----------------------------------------------------------------------------------

    /// <summary>
    /// Schedules <see cref="OnRetry"/> after the request path's backoff, or fails with <paramref name="finalError"/> when the
    /// chunk has used up <see cref="TransferOptions.MaxRetriesPerChunk"/> (or the client-wide retry budget is spent).
    /// </summary>
    protected void RetryOrFail(TransferException finalError, string reason, long offset)
    {
        if (_retries >= Runtime.MaxRetriesPerChunk)
        {
            Fail(finalError);
            return;
        }
        var cost = Runtime.Requests.Budget.TryAcquire(afterTimeout: false);
        if (cost < 0)
        {
            Fail(new TransferException(finalError.Failure, finalError.Message + " Not retried: the client-wide retry budget is exhausted.", finalError.InnerException));
            return;
        }
        _retryCost = cost;
        var delay = Runtime.Requests.DelayBeforeRetry(_retries);
        _retries++;
        Timers.StartSingleTimer(RetryTimer, RetryNow.Instance, delay);
        _telemetry.Resuming(_retries, Runtime.MaxRetriesPerChunk, delay, offset, reason);
        // Published after the timer is set: a test advancing virtual time on it finds the retry scheduled.
        Context.System.EventStream.Publish(new TransferRetryScheduled(Id, _retries, Runtime.MaxRetriesPerChunk, delay, offset, reason));
    }

    /// <summary>Bytes moved forward: the next failure starts a fresh retry count, and a retry that worked gives its budget back.</summary>
    protected void MadeProgress()
    {
        if (_retries == 0) return;
        Runtime.Requests.Budget.RecordSuccess(_retryCost);
        _retries = 0;
        _retryCost = 0;
    }

    /// <summary>Publishes progress if the meter says it is time (always when <paramref name="final"/>).</summary>
    protected void ReportProgress(long transferred, long acknowledged, long? total, bool final = false)
    {
        var progress = Meter.Observe(transferred, acknowledged, total, Now, final);
        if (progress is null) return;
        Context.System.EventStream.Publish(progress);
        _progress?.Report(progress);
    }

    /// <summary>Starts the periodic <see cref="OnTick"/> (uploads whose bytes move inside a request poll their counter).</summary>
    protected void StartTicking() =>
        Timers.StartPeriodicTimer(TickTimer, Tick.Instance, Runtime.ProgressInterval > TimeSpan.FromMilliseconds(10) ? Runtime.ProgressInterval : TimeSpan.FromMilliseconds(10));

    protected void StopTicking() => Timers.Cancel(TickTimer);

    // ---- errors ---------------------------------------------------------------------------------------------------

    /// <summary>Whether a failed call or operation may work when tried again (the request path's retryable statuses included).</summary>
    protected bool IsTransient(Exception error) => error switch
    {
        HttpStatusException status => Runtime.Requests.RetryStatusCodes.Contains((int)status.StatusCode),
        HttpTransportException or HttpCallTimeoutException or CallQueueFullException => true,
        HttpCallException => false, // authentication, invalid request, budget, runtime gone
        LocalIoException => false,
        TransferException => false,
        IOException or HttpRequestException or TimeoutException or OperationCanceledException => true,
        _ => false,
    };

    /// <summary>A failed call as a transfer error: 413, 415 and 416 get their own type; everything else names the call.</summary>
    protected static TransferException Describe(Exception error, string what)
    {
        if (FindInner<TransferException>(error) is { } inner) return inner; // e.g. the source changed while being sent
        if (error is HttpStatusException status)
        {
            var code = (int)status.StatusCode;
            var failure = code switch
            {
                413 => TransferFailure.PayloadTooLarge,
                415 => TransferFailure.UnsupportedMediaType,
                416 => TransferFailure.RangeNotSatisfiable,
                _ => TransferFailure.Http,
            };
            var hint = code switch
            {
                413 => " The server refuses a body this large.",
                415 => " The server refuses this media type.",
                416 => " The server cannot serve the requested range.",
                _ => "",
            };
            return failure == TransferFailure.Http
                ? new TransferException(failure, $"{what}: {status.Message}", status)
                : new TransferRejectedException(failure, status.StatusCode, $"{what}: {status.Message}{hint}", status);
        }
        return new TransferException(TransferFailure.Http, $"{what}: {error.Message}", error);
    }

    protected static T? FindInner<T>(Exception? error) where T : Exception
    {
        for (var e = error; e is not null; e = e.InnerException)
            if (e is T found) return found;
        return null;
    }

    protected static bool IsStatus(Exception error, HttpStatusCode code) => error is HttpStatusException status && status.StatusCode == code;

    // ---- ending ---------------------------------------------------------------------------------------------------

    protected void Complete(string path, long bytes, string sha256, Uri? location = null, string? responseBody = null) =>
        End(new TransferCompleted(Id, Direction, path, bytes, Now - _startedAt, sha256, location) { ResponseBody = responseBody });

    protected void Fail(TransferException error)
    {
        _telemetry.Failed(error);
        End(new TransferFailed(Id, Direction, error));
    }

    private void End(TransferResult result)
    {
        if (Ending) return;
        _ending = result;
        _telemetry.Ended(result, Meter.Last?.BytesTransferred ?? 0, Now);
        Timers.CancelAll();
        _ioCancel?.Cancel();
        if (_callId != 0) Runtime.Calls.Tell(new CancelCall(_callId)); // its one answer still comes, and is released
        Drain();
    }

    /// <summary>Waits for the outstanding call and operation, releases, then reports once and stops.</summary>
    private void Drain()
    {
        if (_ioBusy || _callId != 0) return;
        var result = _ending!;
        if (!_released)
        {
            _released = true;
            _ioBusy = true;
            ReleaseAsync(result).PipeTo(Self, success: static () => new IoDone(null), failure: static error => new IoFailed(error));
            return;
        }
        if (result is TransferCancelled cancelled) result = cancelled with { PartialPath = PartialPath };
        Context.System.EventStream.Publish(result);
        Context.Parent.Tell(new TransferFinished(result));
        Context.Stop(Self);
    }

    // ---- private protocol -----------------------------------------------------------------------------------------

    private sealed record IoDone(object? Result)
    {
        public override string ToString() => $"IoDone({Result?.GetType().Name})";
    }

    private sealed record IoFailed(Exception Error)
    {
        public override string ToString() => $"IoFailed({Error.GetType().Name})";
    }

    private sealed record RetryNow
    {
        public static readonly RetryNow Instance = new();
    }

    private sealed record StallDetected
    {
        public static readonly StallDetected Instance = new();
    }

    private sealed record Tick
    {
        public static readonly Tick Instance = new();
    }
}

/// <summary>Bytes moved inside a running operation, written by the operation and read by the actor between messages.</summary>
internal sealed class ByteCounter
{
    private long _value;

    public long Value => Volatile.Read(ref _value);

    public void Add(long bytes) => Interlocked.Add(ref _value, bytes);

    public void Reset() => Volatile.Write(ref _value, 0);
}

/// <summary>Writing or reading the local file failed: never retried, never mistaken for a dropped connection.</summary>
internal sealed class LocalIoException(string message, Exception inner) : IOException(message, inner);
