using System.Diagnostics;
using System.Globalization;
using System.Threading.RateLimiting;
using Courier.Sandbox.Http;
using Microsoft.AspNetCore.Http;

namespace Courier.Sandbox.Limits;

/// <summary>
/// A rate-limited API: <c>/limited/{**path}</c> answers 200 <c>{"ok":true}</c> within a server-wide token bucket and
/// 429 with <c>Retry-After</c> beyond it, as APIs that protect themselves do. <c>POST /_sandbox/limit?rate=500&amp;burst=50&amp;retryAfter=1</c>
/// sets the limit (and zeroes the counters); with <c>&amp;headers=ietf|legacy|x</c> every answer of <c>/limited</c> (200
/// and 429) also announces the quota (<see cref="LimitHeaders"/>); without it, none (the default). <c>GET /_sandbox/limit</c> reads <c>{"rate","admitted","throttled","tenths"}</c>,
/// where <c>tenths</c> holds <c>[admitted, throttled]</c> for each tenth of a second since the limit was set (the first
/// <see cref="TimelineTenths"/>, trailing empty tenths left out): where a client's time went, seen from the server.
/// Without a limit set, every call is admitted. Real time on purpose: this is a server for clients under test.
/// </summary>
internal sealed class RateLimitedEndpoints : IDisposable
{
    /// <summary>How many tenths of a second the timeline of <c>GET /_sandbox/limit</c> covers (two minutes).</summary>
    public const int TimelineTenths = 1200;

    private Limit? _limit;
    private long _admitted;
    private long _throttled;

    /// <summary>How <c>/limited</c> announces its quota: the bucket's available tokens remain; the reset is the time until the bucket is full again, in whole seconds rounded up.</summary>
    internal enum LimitHeaders
    {
        /// <summary>No rate-limit fields (the default).</summary>
        None,

        /// <summary>The IETF draft: <c>RateLimit-Policy: "default";q=RATE;w=1</c> and <c>RateLimit: "default";r=TOKENS;t=RESET</c>.</summary>
        Ietf,

        /// <summary>The older draft: <c>RateLimit-Limit: RATE</c>, <c>RateLimit-Remaining</c>, <c>RateLimit-Reset</c> (delta-seconds), <c>RateLimit-Policy: RATE;w=1</c>.</summary>
        Legacy,

        /// <summary>The vendor form: <c>X-RateLimit-Limit: BURST</c>, <c>X-RateLimit-Remaining</c>, <c>X-RateLimit-Reset</c> as Unix epoch seconds (as GitHub).</summary>
        X,
    }

    private sealed record Limit(TokenBucketRateLimiter Bucket, int Rate, int Burst, int RetryAfterSeconds, LimitHeaders Headers)
    {
        public long Since { get; } = Stopwatch.GetTimestamp();
        public long[] Admitted { get; } = new long[TimelineTenths];
        public long[] Throttled { get; } = new long[TimelineTenths];

        public void Count(long[] tenths)
        {
            var tenth = (long)(Stopwatch.GetElapsedTime(Since).Ticks / (TimeSpan.TicksPerMillisecond * 100));
            if (tenth < TimelineTenths) Interlocked.Increment(ref tenths[tenth]);
        }
    }

    /// <summary><c>/limited/{**path}</c>.</summary>
    public Task HandleAsync(HttpContext context)
    {
        var limit = Volatile.Read(ref _limit);
        if (limit is not null)
        {
            // Refilled here, from the time elapsed since the last refill, as nginx's limit_req and other servers compute
            // it on each request: a timer-driven refill runs late when this (shared, in-process) host is starved, and the
            // requests that arrive before it catches up would see a stale bucket and be throttled below the rate.
            limit.Bucket.TryReplenish();
            using var lease = limit.Bucket.AttemptAcquire(1);
            if (limit.Headers != LimitHeaders.None) Announce(context.Response.Headers, limit);
            if (!lease.IsAcquired)
            {
                Interlocked.Increment(ref _throttled);
                limit.Count(limit.Throttled);
                context.Response.Headers.RetryAfter = limit.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
                return JsonResponse.WriteAsync(context, StatusCodes.Status429TooManyRequests, 0, static (writer, _) =>
                {
                    writer.WriteStartObject();
                    writer.WriteString("error"u8, "rate limited"u8);
                    writer.WriteEndObject();
                });
            }
        }
        Interlocked.Increment(ref _admitted);
        limit?.Count(limit.Admitted);
        return JsonResponse.WriteAsync(context, StatusCodes.Status200OK, 0, static (writer, _) =>
        {
            writer.WriteStartObject();
            writer.WriteBoolean("ok"u8, true);
            writer.WriteEndObject();
        });
    }

    private static void Announce(IHeaderDictionary headers, Limit limit)
    {
        var tokens = limit.Bucket.GetStatistics()?.CurrentAvailablePermits ?? 0;
        var reset = (long)Math.Ceiling((limit.Burst - tokens) / (double)limit.Rate);
        var rate = limit.Rate.ToString(CultureInfo.InvariantCulture);
        var remaining = tokens.ToString(CultureInfo.InvariantCulture);
        switch (limit.Headers)
        {
            case LimitHeaders.Ietf:
                headers["RateLimit-Policy"] = $"\"default\";q={rate};w=1";
                headers["RateLimit"] = $"\"default\";r={remaining};t={reset.ToString(CultureInfo.InvariantCulture)}";
                break;
            case LimitHeaders.Legacy:
                headers["RateLimit-Limit"] = rate;
                headers["RateLimit-Remaining"] = remaining;
                headers["RateLimit-Reset"] = reset.ToString(CultureInfo.InvariantCulture);
                headers["RateLimit-Policy"] = rate + ";w=1";
                break;
            case LimitHeaders.X:
                var full = DateTimeOffset.UtcNow.AddSeconds((limit.Burst - tokens) / (double)limit.Rate);
                var epoch = full.ToUnixTimeSeconds() + (full.ToUnixTimeMilliseconds() % 1000 == 0 ? 0 : 1);
                headers["X-RateLimit-Limit"] = limit.Burst.ToString(CultureInfo.InvariantCulture);
                headers["X-RateLimit-Remaining"] = remaining;
                headers["X-RateLimit-Reset"] = epoch.ToString(CultureInfo.InvariantCulture);
                break;
        }
    }

    /// <summary><c>POST /_sandbox/limit?rate=N&amp;burst=B&amp;retryAfter=S&amp;headers=ietf|legacy|x</c>: 400 naming a bad parameter.</summary>
    public Task ConfigureAsync(HttpContext context)
    {
        var query = context.Request.Query;
        if (!int.TryParse(query["rate"], NumberStyles.None, CultureInfo.InvariantCulture, out var rate) || rate < 1)
            return BadRequest(context, "rate must be a whole number of requests per second, at least 1");
        var burst = Math.Max(1, rate / 10);
        if (query.ContainsKey("burst") && (!int.TryParse(query["burst"], NumberStyles.None, CultureInfo.InvariantCulture, out burst) || burst < 1))
            return BadRequest(context, "burst must be at least 1");
        var retryAfter = 1;
        if (query.ContainsKey("retryAfter") && !int.TryParse(query["retryAfter"], NumberStyles.None, CultureInfo.InvariantCulture, out retryAfter))
            return BadRequest(context, "retryAfter must be a whole number of seconds");
        var headers = LimitHeaders.None;
        if (query.ContainsKey("headers"))
        {
            headers = query["headers"].ToString().ToLowerInvariant() switch
            {
                "ietf" => LimitHeaders.Ietf,
                "legacy" => LimitHeaders.Legacy,
                "x" => LimitHeaders.X,
                "none" => LimitHeaders.None,
                _ => (LimitHeaders)(-1),
            };
            if (headers < 0) return BadRequest(context, "headers must be ietf, legacy, x or none");
        }

        // Replenished on each request (see HandleAsync) in proportion to the time elapsed (a hundredth of the rate per
        // 10 ms), so the rate holds at sub-second scale too. Not by a timer: one that runs late on a loaded machine adds
        // only one period's tokens per tick, and the server then admits less than its rate (measured: about 350/s of
        // 500/s at load 25, so a client keeping to an announced quota drew 429s).
        var bucket = new TokenBucketRateLimiter(new TokenBucketRateLimiterOptions
        {
            TokenLimit = burst,
            TokensPerPeriod = Math.Max(1, rate / 100),
            ReplenishmentPeriod = TimeSpan.FromMilliseconds(rate >= 100 ? 10 : 1000.0 / rate),
            AutoReplenishment = false,
            QueueLimit = 0,
        });
        Interlocked.Exchange(ref _limit, new Limit(bucket, rate, burst, retryAfter, headers))?.Bucket.Dispose();
        Interlocked.Exchange(ref _admitted, 0);
        Interlocked.Exchange(ref _throttled, 0);
        context.Response.StatusCode = StatusCodes.Status204NoContent;
        return Task.CompletedTask;
    }

    /// <summary><c>GET /_sandbox/limit</c>.</summary>
    public Task StatsAsync(HttpContext context) =>
        JsonResponse.WriteAsync(context, StatusCodes.Status200OK, this, static (writer, self) =>
        {
            writer.WriteStartObject();
            if (Volatile.Read(ref self._limit) is { } limit) writer.WriteNumber("rate"u8, limit.Rate); else writer.WriteNull("rate"u8);
            writer.WriteNumber("admitted"u8, Interlocked.Read(ref self._admitted));
            writer.WriteNumber("throttled"u8, Interlocked.Read(ref self._throttled));
            writer.WriteStartArray("tenths"u8);
            if (Volatile.Read(ref self._limit) is { } timeline)
            {
                var last = TimelineTenths - 1;
                while (last >= 0 && Interlocked.Read(ref timeline.Admitted[last]) + Interlocked.Read(ref timeline.Throttled[last]) == 0) last--;
                for (var tenth = 0; tenth <= last; tenth++)
                {
                    writer.WriteStartArray();
                    writer.WriteNumberValue(Interlocked.Read(ref timeline.Admitted[tenth]));
                    writer.WriteNumberValue(Interlocked.Read(ref timeline.Throttled[tenth]));
                    writer.WriteEndArray();
                }
            }
            writer.WriteEndArray();
            writer.WriteEndObject();
        });

    public void Dispose() => Interlocked.Exchange(ref _limit, null)?.Bucket.Dispose();

    private static Task BadRequest(HttpContext context, string message) =>
        JsonResponse.WriteAsync(context, StatusCodes.Status400BadRequest, message, static (writer, m) =>
        {
            writer.WriteStartObject();
            writer.WriteString("error"u8, m);
            writer.WriteEndObject();
        });
}
