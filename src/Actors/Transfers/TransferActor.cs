using System.Net;
using Akka.Actor;
using Akka.Event;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Transfers;

/// <summary>
/// What the three transfer actors share: every HTTP call goes through the <see cref="RequestCoordinator"/> (so tokens,
/// 401 refreshes, redirects and timeouts are the request path's), every file operation runs as a task piped back as a
/// typed message (the actor never blocks), retries use the request path's backoff and budget, progress is throttled by a
/// <see cref="ProgressMeter"/>, and the end is reported once: events, then the parent, then the actor stops.
/// </summary>
/// <remarks>
/// <para>
/// A state machine. While it runs, the actor is in exactly one of these states, switched with <c>Become</c>:
/// <see cref="Requesting"/> (one call in flight, its answer goes to the continuation given to <see cref="Send"/>),
/// <see cref="Working"/> (one file operation in flight, named by its phase: Preparing, Opening, Streaming, Finishing...;
/// its typed result goes to the continuation given to <see cref="RunIo{T}"/>), <see cref="WaitingToRetry"/> (the backoff
/// timer runs) or <see cref="Idle"/> (between two steps, inside one message). Cancellation and the progress tick are heard in
/// all of them.
/// </para>
/// <para>
/// Ending (completion, failure, cancellation) moves to <see cref="Draining"/>: the call or operation still in flight is
/// cancelled and its one answer awaited (an operation's result is handed to its <c>abandon</c> callback, so no file handle
/// or response is released while a task still uses it); then <see cref="Releasing"/> runs <see cref="ReleaseAsync"/>;
/// then the result is reported and the actor stops.
/// </para>
/// </remarks>
internal abstract class TransferActor : ActorBase, IWithTimers
{
    private const string RetryTimer = "retry";
    private const string StallTimer = "stall";
    private const string TickTimer = "tick";

    private readonly IProgress<TransferProgress>? _progress;
    private readonly string _description;
    private Pending? _pending;              // what is in flight: the one call or the one operation, null when nothing
    private long _lastOperation;            // operation ids, never reused in the actor's life
    private CancellationTokenSource? _ioCancel;
    private int _retries;                   // retries since bytes last moved forward
    private int _retryCost;
    private Task? _release;                 // started once, by Releasing
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
        _idle = Idle;
        _requesting = Requesting;
        _working = Working;
        _waitingToRetry = WaitingToRetry;
        _draining = Draining;
        _releasing = Releasing;
    }

    public ITimerScheduler Timers { get; set; } = null!;

    protected long Id { get; }
    protected TransferDirection Direction { get; }
    protected TransferRuntime Runtime { get; }
    protected ProgressMeter Meter { get; }
    protected DateTimeOffset Now => Context.System.Scheduler.Now;

    /// <summary>A count that moves whenever bytes move inside a long operation (read by the stall watch between messages).</summary>
    protected virtual long Activity => 0;

    /// <summary>The caller's span when the transfer was requested (the transfer's span is its child), or default.</summary>
    protected virtual System.Diagnostics.ActivityContext TraceParent => default;

    /// <summary>The file kept for a resume if the transfer stops now (reported by <see cref="TransferCancelled"/> and <see cref="TransferFailed"/>), or null.</summary>
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
        if (_release is null) ReleaseNow(); // only after a crash: the orderly path released asynchronously
    }

    // ---- what subclasses implement -------------------------------------------------------------------------

    protected abstract void Start();

    /// <summary>A retry timer fired.</summary>
    protected abstract void OnRetry();

    /// <summary>The periodic progress timer fired (see <see cref="StartTicking"/>).</summary>
    protected virtual void OnTick()
    {
    }

    /// <summary>
    /// The operation in flight reported <paramref name="bytes"/> more moved (see <see cref="RunIoWithProgress{T}"/>);
    /// heard only while it runs, and always before its result.
    /// </summary>
    protected virtual void OnIoProgress(long bytes)
    {
    }

    /// <summary>Frees files and responses at the end; <paramref name="result"/> says how it ended.</summary>
    protected abstract Task ReleaseAsync(TransferResult result);

    /// <summary>Last-resort synchronous release after a crash.</summary>
    protected abstract void ReleaseNow();

    // ---- states -------------------------------------------------------------------------------------------------
    // Each state is a Receive delegate made once per actor (as in RequestActor): a ReceiveActor builds a new handler table
    // on every Become, and a download switches state twice per chunk. What a state needs (the call or operation in flight
    // and its continuations) is in _pending; the state of the end in _ending.

    private readonly Receive _idle;
    private readonly Receive _requesting;
    private readonly Receive _working;
    private readonly Receive _waitingToRetry;
    private readonly Receive _draining;
    private readonly Receive _releasing;
    private TransferResult? _ending;        // set when the end is decided (Draining, Releasing)
    private bool _stalled;                  // the operation in flight was cancelled by the stall watch
    private long _activityAtWatch;          // Activity when the stall timer was last set

    protected override bool Receive(object message) => _idle(message);

    /// <summary>Between two steps: nothing in flight (a continuation is about to start the next step, or to end).</summary>
    private bool Idle(object message) => Always(message);

    /// <summary>One call in flight: its answer (and only its) goes to the continuations; a stale answer is released.</summary>
    private bool Requesting(object message)
    {
        if (message is not CallResult result || _pending is not PendingCall call || result.CallId != call.Id) return Always(message);
        _pending = null;
        Become(_idle);
        switch (result)
        {
            case CallSucceeded ok:
                call.OnResponse(ok.Response); // the response is the continuation's to dispose
                break;
            case CallFailed failed:
                call.OnFailed(failed.Error);
                break;
        }
        return true;
    }

    /// <summary>
    /// One file operation in flight (<see cref="PendingIo.Phase"/> names it): its typed result goes to the continuation given
    /// to <see cref="RunIo{T}"/>, its failure to the failure continuation. With a stall watch, an operation during which
    /// <see cref="Activity"/> does not move for <see cref="TransferOptions.StallTimeout"/> is cancelled and fails with a
    /// <see cref="TimeoutException"/>.
    /// </summary>
    private bool Working(object message)
    {
        if (_pending is not PendingIo io) return Always(message);
        switch (message)
        {
            case IoFailed done when done.Operation == io.Operation:
            {
                Timers.Cancel(StallTimer);
                _pending = null;
                Become(_idle);
                var error = done.Error is AggregateException { InnerExceptions.Count: 1 } aggregate ? aggregate.InnerExceptions[0] : done.Error;
                if (_stalled) error = new TimeoutException($"no data for {Runtime.StallTimeout.TotalSeconds:0.###} s (Transfers:StallTimeout)", error);
                io.Failed(error);
                return true;
            }
            case IoProgress moved when moved.Operation == io.Operation:
                OnIoProgress(moved.Bytes);
                return true;
            case IoOutcome done when done.Operation == io.Operation:
                Timers.Cancel(StallTimer);
                _pending = null;
                Become(_idle);
                io.Completed(done);
                return true;
            case StallDetected stall when stall.Operation == io.Operation:
                if (Activity != _activityAtWatch)
                {
                    // Bytes moved since the timer was set: a slow link, not a stalled one.
                    _activityAtWatch = Activity;
                    Timers.StartSingleTimer(StallTimer, new StallDetected(io.Operation), Runtime.StallTimeout);
                    return true;
                }
                Runtime.Requests.Log.Debug("Transfer {0}: {1} stalled", Id, io.Phase);
                _stalled = true;
                _ioCancel?.Cancel();
                return true;
            default:
                return Always(message);
        }
    }

    /// <summary>The backoff timer of a retry runs.</summary>
    private bool WaitingToRetry(object message)
    {
        if (message is not RetryNow) return Always(message);
        Become(_idle);
        OnRetry();
        return true;
    }

    /// <summary>What every running state hears: cancellation, the progress tick; stale answers are released.</summary>
    private bool Always(object message)
    {
        switch (message)
        {
            case CancelTransfer:
                End(new TransferCancelled(Id, Direction, Meter.Last?.BytesTransferred ?? 0, PartialPath));
                return true;
            case Tick:
                OnTick();
                return true;
            case CallResult result:
                (result as CallSucceeded)?.Response.Dispose(); // an answer we no longer wait for
                return true;
            case IoProgress:
                return true; // of an operation that is over
            default:
                return false;
        }
    }

    /// <summary>The end is decided (<see cref="_ending"/>): waits for the one answer still in flight (cancelled), then releases.</summary>
    private bool Draining(object message)
    {
        switch (message)
        {
            case CallResult answer:
                (answer as CallSucceeded)?.Response.Dispose();
                if (_pending is PendingCall call && call.Id == answer.CallId) Release();
                return true;
            case IoOutcome outcome:
                if (_pending is not PendingIo io || io.Operation != outcome.Operation) return true;
                io.Abandon(outcome); // what the operation opened is the actor's to free now
                Release();
                return true;
            default:
                return true; // timers, ticks, a second cancel: the end is decided
        }
    }

    /// <summary><see cref="ReleaseAsync"/> runs; then the result is reported once and the actor stops.</summary>
    private bool Releasing(object message)
    {
        if (message is Released released)
        {
            if (released.Error is { } error) Runtime.Requests.Log.Warning("Transfer {0}: releasing its files failed: {1}", Id, error.Message);
            Report(_ending!);
        }
        return true;
    }

    // ---- calls --------------------------------------------------------------------------------------------------

    /// <summary>
    /// A call of this transfer: no retries of its own (the transfer retries, resuming where it stopped), the runtime's
    /// token unless <paramref name="anonymous"/>, the caller's headers first, through the transfer client (no automatic
    /// decompression) and with <c>Accept-Encoding: identity</c> unless the caller set an <c>Accept-Encoding</c>: without
    /// the header any coding is acceptable (RFC 9110 §12.5.3), and a compressed answer has offsets a range cannot ask for.
    /// </summary>
    protected HttpCall NewCall(HttpMethod method, Uri uri, IReadOnlyList<KeyValuePair<string, string>> callerHeaders, bool anonymous,
        params ReadOnlySpan<KeyValuePair<string, string>> headers)
    {
        var all = new List<KeyValuePair<string, string>>(callerHeaders.Count + headers.Length + 1);
        all.AddRange(callerHeaders);
        foreach (var header in headers) all.Add(header);
        if (!all.Exists(static h => string.Equals(h.Key, "Accept-Encoding", StringComparison.OrdinalIgnoreCase)))
            all.Add(new("Accept-Encoding", "identity"));
        return new HttpCall(method, uri) { Headers = all, Anonymous = anonymous, MaxRetries = 0, TraceParent = _telemetry.CallParent, IsTransfer = true };
    }

    /// <summary>Sends <paramref name="call"/> through the request path and moves to <see cref="Requesting"/> until it is answered.</summary>
    protected void Send(HttpCall call, Action<HttpResponseMessage> onResponse, Action<Exception> onFailed)
    {
        _pending = new PendingCall(call.Id, onResponse, onFailed);
        Runtime.Calls.Tell(new ExecuteCall(call));
        Become(_requesting);
    }

    // ---- file operations ----------------------------------------------------------------------------------------

    /// <summary>
    /// Runs <paramref name="work"/> off the actor and moves to <see cref="Working"/> (named <paramref name="phase"/>) until
    /// its result comes back to <paramref name="then"/> (or its failure to <paramref name="failed"/>). The work must touch no
    /// actor state: it gets what it needs as arguments and returns what the actor should see. If the transfer ends while
    /// it runs, its result goes to <paramref name="abandon"/> instead, so that what it opened is released. With
    /// <paramref name="watchStall"/> it is cancelled (and reported as a <see cref="TimeoutException"/>) if no bytes move
    /// for the stall timeout.
    /// </summary>
    protected void RunIo<T>(string phase, Func<CancellationToken, Task<T>> work, Action<T> then, Action<Exception> failed,
        Action<T>? abandon = null, bool watchStall = false) =>
        RunIoWithProgress(phase, (ct, _) => work(ct), then, failed, abandon, watchStall);

    /// <summary>
    /// <see cref="RunIo{T}"/> for a long operation that tells the actor how it advances without waiting for it: the
    /// <see cref="Action{T}"/> given to <paramref name="work"/> sends the bytes moved since its last call to
    /// <see cref="OnIoProgress"/> as a message (safe to call from the operation's thread; the reports of one operation
    /// arrive in order and before its result).
    /// </summary>
    protected void RunIoWithProgress<T>(string phase, Func<CancellationToken, Action<long>, Task<T>> work, Action<T> then,
        Action<Exception> failed, Action<T>? abandon = null, bool watchStall = false)
    {
        var operation = ++_lastOperation;
        _ioCancel?.Dispose();
        _ioCancel = new CancellationTokenSource();
        _pending = new PendingIo(operation, phase,
            Completed: outcome => then(((IoCompleted<T>)outcome).Result),
            Failed: failed,
            Abandon: outcome =>
            {
                if (abandon is not null && outcome is IoCompleted<T> done) abandon(done.Result);
            });
        _stalled = false;
        _activityAtWatch = Activity;
        Become(_working);
        if (watchStall) Timers.StartSingleTimer(StallTimer, new StallDetected(operation), Runtime.StallTimeout);
        var self = Self;
        var token = _ioCancel.Token;
        Action<long> report = bytes => self.Tell(new IoProgress(operation, bytes), ActorRefs.NoSender);
        // Started on the thread pool, never inside this receive: a method that is async need not yield. A body whose
        // reads all complete at once (a fast server keeps the socket full) would otherwise be pumped to its end on the
        // actor's thread, and the actor would hear nothing (progress, a cancel, the stall watch) until it is on disk.
        // Task.Run turns an exception thrown before the first await into a faulted task as well.
        var task = Task.Run(() => work(token, report), CancellationToken.None);
        task.PipeTo(Self, success: result => new IoCompleted<T>(operation, result), failure: error => new IoFailed(operation, error));
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
        Become(_waitingToRetry);
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

    protected void Complete(string path, long bytes, string? sha256, Uri? location = null, string? responseBody = null) =>
        End(new TransferCompleted(Id, Direction, path, bytes, Now - _startedAt, sha256, location) { ResponseBody = responseBody });

    /// <summary>
    /// From an <c>abandon</c> callback: the operation the end did not wait for finished the transfer after all (the file has
    /// its final name). A cancel heard meanwhile loses to it: the transfer reports this completion instead, so that a
    /// caller never hears "cancelled" with the file already in place and a partial path that no longer exists.
    /// </summary>
    protected void CompletedWhileEnding(string path, long bytes, string? sha256, Uri? location = null)
    {
        if (_ending is TransferCancelled)
            _ending = new TransferCompleted(Id, Direction, path, bytes, Now - _startedAt, sha256, location);
    }

    protected void Fail(TransferException error)
    {
        _telemetry.Failed(error);
        End(new TransferFailed(Id, Direction, error));
    }

    /// <summary>Cancels what is in flight and moves to <see cref="Draining"/> (or straight on to releasing when nothing is).</summary>
    private void End(TransferResult result)
    {
        _telemetry.Ended(result, Meter.Last?.BytesTransferred ?? 0, Now);
        Timers.CancelAll();
        _ioCancel?.Cancel();
        if (_pending is PendingCall call) Runtime.Calls.Tell(new CancelCall(call.Id)); // its one answer still comes, and is released
        _ending = result;
        Become(_draining);
        if (_pending is null) Release();
    }

    private void Release()
    {
        var result = _ending!;
        _pending = null;
        Become(_releasing);
        _release = ReleaseAsync(result);
        _release.PipeTo(Self, success: static () => new Released(null), failure: static error => new Released(error));
    }

    private void Report(TransferResult result)
    {
        result = result switch
        {
            TransferCancelled cancelled => cancelled with { PartialPath = PartialPath },
            TransferFailed failed => WithPartialPath(failed, PartialPath),
            _ => result,
        };
        Context.System.EventStream.Publish(result);
        Context.Parent.Tell(new TransferFinished(result));
        Context.Stop(Self);
    }

    private static TransferFailed WithPartialPath(TransferFailed failed, string? partialPath)
    {
        failed.Error.PartialPath = partialPath; // the facade throws the error: the caller finds the path on it
        return failed with { PartialPath = partialPath };
    }

    // ---- private protocol -----------------------------------------------------------------------------------------

    /// <summary>What is in flight.</summary>
    private abstract record Pending;

    /// <summary>A call in flight and where its answer goes.</summary>
    private sealed record PendingCall(long Id, Action<HttpResponseMessage> OnResponse, Action<Exception> OnFailed) : Pending;

    /// <summary>
    /// A file operation in flight (<paramref name="Phase"/> names it for logs): <paramref name="Completed"/> takes its
    /// typed result, <paramref name="Failed"/> its error, <paramref name="Abandon"/> its outcome when the transfer ended meanwhile.
    /// </summary>
    private sealed record PendingIo(long Operation, string Phase, Action<IoOutcome> Completed, Action<Exception> Failed, Action<IoOutcome> Abandon) : Pending;

    private abstract record IoOutcome(long Operation);

    private sealed record IoCompleted<T>(long Operation, T Result) : IoOutcome(Operation)
    {
        public override string ToString() => $"IoCompleted<{typeof(T).Name}>({Operation})";
    }

    private sealed record IoFailed(long Operation, Exception Error) : IoOutcome(Operation)
    {
        public override string ToString() => $"IoFailed({Operation}, {Error.GetType().Name})";
    }

    /// <summary>A running operation moved <paramref name="Bytes"/> more (see <see cref="OnIoProgress"/>).</summary>
    private sealed record IoProgress(long Operation, long Bytes);

    private sealed record Released(Exception? Error);

    private sealed record RetryNow
    {
        public static readonly RetryNow Instance = new();
    }

    private sealed record StallDetected(long Operation);

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
