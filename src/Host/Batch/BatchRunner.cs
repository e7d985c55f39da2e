using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using System.Threading.Channels;
using Courier.Errors;
using Courier.Requests;

namespace Courier.Host.Batch;

/// <summary>Progress of a running batch.</summary>
internal sealed record BatchProgress(long Read, long Written, long Succeeded, long Failed, long Skipped);

/// <summary>The totals of a batch; <paramref name="FailureReasons"/> counts this run's failed results by reason.</summary>
internal sealed record BatchSummary(long Lines, long Succeeded, long Failed, long Malformed, long Skipped, long AuthenticationFailures,
    bool Cancelled, TimeSpan Elapsed, IReadOnlyDictionary<string, long> FailureReasons)
{
    /// <summary>The lines reported in doubt by this run.</summary>
    public long InDoubt => FailureReasons.GetValueOrDefault(BatchResults.InDoubtReason);
}

/// <summary>
/// The high-concurrency batch caller. Input is read line by line and at most <c>concurrency</c> calls are in flight, so
/// memory does not grow with the file (but for the set of ids); each result is written as it arrives (one JSON line,
/// flushed whenever the writer catches up). Exactly once across kills: non-idempotent lines get a stable
/// <c>Idempotency-Key</c> (<see cref="BatchJournal.IdempotencyKey"/>), or, with keys off, are journaled before they
/// are sent so that a resumed batch reports the unanswered ones "in doubt" instead of sending them twice. Cancelled
/// calls write nothing, so a resumed batch answers each id once; an id repeated in the input is answered once.
/// </summary>
internal static class BatchRunner
{
    public static async Task<BatchSummary> RunAsync(IHttpRuntimeClient client, BatchSettings settings, Action<BatchProgress>? progress,
        CancellationToken cancellationToken)
    {
        if (!File.Exists(settings.InputPath)) throw new Cli.UsageException($"The input file '{settings.InputPath}' does not exist.");
        if (settings.Concurrency < 1) throw new Cli.UsageException("--concurrency must be at least 1.");
        var outputFolder = Path.GetDirectoryName(Path.GetFullPath(settings.OutputPath));
        if (outputFolder is not null && !Directory.Exists(outputFolder)) throw new Cli.UsageException($"The output folder '{outputFolder}' does not exist.");

        var prior = settings.Continues ? await BatchResults.ReadAsync(settings.OutputPath, cancellationToken) : [];
        await using var journal = await BatchJournal.OpenAsync(settings.OutputPath, settings.Continues, settings.BatchId, cancellationToken);
        var stopwatch = Stopwatch.StartNew();
        long read = 0, written = 0, succeeded = 0, failed = 0, malformed = 0, skipped = 0, authFailures = 0;
        var reasons = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);

        var concurrency = settings.Concurrency;
        var results = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(concurrency * 2) { SingleReader = true });
        await using var output = new FileStream(settings.OutputPath, settings.Continues ? FileMode.Append : FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16, useAsync: true);
        var writer = Task.Run(async () =>
        {
            try
            {
                await foreach (var line in results.Reader.ReadAllAsync(CancellationToken.None))
                {
                    await output.WriteAsync(line, CancellationToken.None);
                    Interlocked.Increment(ref written);
                    if (results.Reader.Count == 0) await output.FlushAsync(CancellationToken.None); // a killed batch leaves whole lines
                }
                await output.FlushAsync(CancellationToken.None);
            }
            catch (Exception ex)
            {
                // Disk full, quota...: close the channel with the error, so that calls still producing results stop
                // waiting for room in it (they get ChannelClosedException) instead of hanging the batch.
                results.Writer.TryComplete(ex);
                throw;
            }
        }, CancellationToken.None);

        void Report() => progress?.Invoke(new BatchProgress(Interlocked.Read(ref read), Interlocked.Read(ref written),
            Interlocked.Read(ref succeeded), Interlocked.Read(ref failed), Interlocked.Read(ref skipped)));

        ValueTask WriteFailureAsync(byte[] json, string reason)
        {
            Interlocked.Increment(ref failed);
            reasons.AddOrUpdate(reason, 1, (_, n) => n + 1);
            return results.Writer.WriteAsync(json, CancellationToken.None);
        }

        bool Skips(string key) => prior.TryGetValue(key, out var result) && result switch
        {
            PriorResult.Succeeded => true,
            PriorResult.Failed => !settings.RetryFailed,
            PriorResult.InDoubt => !settings.ResendInDoubt,
            _ => false,
        };

        using var slots = new SemaphoreSlim(concurrency, concurrency);
        var firstLineOf = new Dictionary<string, long>(StringComparer.Ordinal);
        var cancelled = false;
        try
        {
            using var input = new StreamReader(settings.InputPath, Encoding.UTF8, detectEncodingFromByteOrderMarks: true,
                new FileStreamOptions { Options = FileOptions.Asynchronous | FileOptions.SequentialScan, BufferSize = 1 << 16 });
            long lineNumber = 0;
            while (await input.ReadLineAsync(cancellationToken) is { } text)
            {
                lineNumber++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                Interlocked.Increment(ref read);
                BatchLine line;
                try
                {
                    line = BatchLine.Parse(text, lineNumber, settings.BaseAddress);
                }
                catch (FormatException ex)
                {
                    var id = BatchResults.TryReadId(text);
                    if (Skips(BatchResults.Key(id, lineNumber))) { Interlocked.Increment(ref skipped); continue; }
                    Interlocked.Increment(ref malformed);
                    await WriteFailureAsync(BatchResults.Malformed(id, lineNumber, ex.Message), "malformed line");
                    continue;
                }

                if (!firstLineOf.TryAdd(line.Id, lineNumber))
                {
                    if (Skips(BatchResults.Key(null, lineNumber))) { Interlocked.Increment(ref skipped); continue; }
                    await WriteFailureAsync(BatchResults.Duplicate(line.Id, lineNumber, firstLineOf[line.Id]), "duplicate id");
                    continue;
                }
                if (Skips(line.Id))
                {
                    Interlocked.Increment(ref skipped);
                    continue;
                }
                if (!prior.ContainsKey(line.Id) && journal.Sent.Contains(line.Id) && !settings.ResendInDoubt)
                {
                    await WriteFailureAsync(BatchResults.InDoubt(line), BatchResults.InDoubtReason);
                    continue;
                }

                var call = line.Call;
                var unsafeMethod = !IsIdempotent(call.Method);
                if (unsafeMethod && settings.IdempotencyKeys && !call.HasIdempotencyKey)
                    call = call.WithHeader("Idempotency-Key", journal.IdempotencyKey(line.Id));

                await slots.WaitAsync(cancellationToken);
                // Journaled only once it holds a slot, i.e. right before it is sent: a kill while waiting leaves no entry.
                var journaled = unsafeMethod && !call.HasIdempotencyKey;
                if (journaled) journal.RecordSending(line.Id);
                _ = RunOneAsync(line with { Call = call }, journaled);
                if ((read & 255) == 0) Report();
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            cancelled = true;
        }
        finally
        {
            // Drain whatever ended the reading (the end, Ctrl+C, or an error reading the input): every slot back means
            // every call has finished and queued its result, before the output is closed.
            for (var i = 0; i < concurrency; i++) await slots.WaitAsync(CancellationToken.None);
            results.Writer.TryComplete();
        }
        await writer; // rethrows a write failure
        Report();
        return new BatchSummary(read, succeeded, failed, malformed, skipped, authFailures, cancelled || cancellationToken.IsCancellationRequested,
            stopwatch.Elapsed, new Dictionary<string, long>(reasons));

        async Task RunOneAsync(BatchLine line, bool journaled)
        {
            try
            {
                var started = Stopwatch.GetTimestamp();
                var result = await client.ExecuteAsync(line.Call, cancellationToken);
                var duration = Stopwatch.GetElapsedTime(started);
                switch (result)
                {
                    case CallSucceeded ok:
                        byte[] json;
                        using (ok.Response)
                        {
                            var body = await ok.Response.Content.ReadAsByteArrayAsync(CancellationToken.None);
                            json = BatchResults.Success(line, (int)ok.Response.StatusCode, ok.Attempts, duration, body,
                                ok.Response.Content.Headers.ContentType, settings.BodyBase64);
                        }
                        Interlocked.Increment(ref succeeded);
                        await results.Writer.WriteAsync(json, CancellationToken.None);
                        break;
                    case CallFailed { Error: HttpCallCanceledException cancel }:
                        // Not answered: a resumed batch sends it again, unless it may have reached the server without a key.
                        if (journaled && cancel.Attempts == 0) journal.RecordNotSent(line.Id);
                        return;
                    case CallFailed f:
                        if (f.Error is AuthenticationFailedException) Interlocked.Increment(ref authFailures);
                        await WriteFailureAsync(BatchResults.Failure(line, f.Error, f.Attempts, duration, settings.BodyBase64), BatchResults.Reason(f.Error));
                        break;
                }
            }
            catch (OperationCanceledException)
            {
                // Cancelled before it was sent: not answered, a resumed batch sends it.
                if (journaled) journal.RecordNotSent(line.Id);
            }
            catch (ChannelClosedException)
            {
                // The writer failed: the batch ends with its error, this result has nowhere to go.
            }
            catch (Exception ex)
            {
                await WriteFailureAsync(BatchResults.Failure(line, ex, 0, TimeSpan.Zero, settings.BodyBase64), BatchResults.Reason(ex));
            }
            finally
            {
                slots.Release();
            }
        }
    }

    /// <summary>Methods a server may receive twice without a second effect (RFC 9110 §9.2.2): everything else gets a key or a journal entry.</summary>
    internal static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options || method == HttpMethod.Trace ||
        method == HttpMethod.Put || method == HttpMethod.Delete;
}
