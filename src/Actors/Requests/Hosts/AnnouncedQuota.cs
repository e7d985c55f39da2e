namespace Courier.Requests.Hosts;

/// <summary>
/// What one host's announced quota (<see cref="RateLimitHeaders"/>) does to its state, as a pure function of the
/// announcement and the time:
/// <list type="bullet">
/// <item><b>Nothing remains</b> (<c>r=0</c>, <c>RateLimit-Remaining: 0</c>) with a reset: the host is paused until the
/// reset, capped at <c>Retry:MaxRetryAfter</c> like a <c>Retry-After</c>, so the call that would have drawn the 429 is
/// not sent. A <c>Retry-After</c> on the same response takes precedence (draft §7). It is not a throttle: the server
/// refused nothing, so the window is not cut, the breaker does not count it and no budget is spent.</item>
/// <item><b>A policy with a short window</b> (at most <see cref="MaxPacingWindow"/>): the host is paced at
/// <see cref="PaceShare"/> × quota / window, with or without a throttle seen (it caps a learned rate too: the tighter of
/// the two holds). A quota per long window (GitHub's 5,000 an hour) is not a rate to pace at: spread over the hour it
/// would hold a batch of a hundred calls for over a minute when the server would answer them at once; the reset pause
/// covers its end. 0.9 because a stated rate leaves no room for jitter: paced at exactly q/w, the server's quota hovers
/// at zero, and every "nothing remains" then pauses the host for a whole effective window (a whole second at least, as
/// the fields count in whole seconds).</item>
/// </list>
/// A policy with a quota of 0, a remaining count above 0, or a missing reset changes nothing.
/// <para>A pace of its own rather than a seed of <see cref="AdaptiveRate"/>: it holds whether or not
/// <c>Hosts:AdaptiveRate</c> is on, the learned rate keeps its own rule for 429s, and each admission asks both, so the
/// tighter holds either way (the announced pace caps a learned rate, and a learned rate below it is kept).</para>
/// </summary>
internal sealed class AnnouncedQuota
{
    /// <summary>The longest policy window taken as a rate to pace at.</summary>
    public static readonly TimeSpan MaxPacingWindow = TimeSpan.FromSeconds(10);

    /// <summary>The share of an announced quota per window the host is paced at.</summary>
    public const double PaceShare = 0.9;

    private long _quota;
    private TimeSpan _window;
    private HostRateLimiter? _pace;

    /// <summary>The pace in calls per second, or null while no short-window policy was announced.</summary>
    public double? Rate => _pace is null ? null : PaceShare * _quota / _window.TotalSeconds;

    /// <summary>
    /// The end of the pause <paramref name="status"/> asks for, received at <paramref name="now"/> (null: none), at most
    /// <paramref name="maxPause"/> away; <paramref name="hasRetryAfter"/>: the response named a <c>Retry-After</c>, which wins.
    /// </summary>
    public static DateTimeOffset? PauseUntil(in RateLimitStatus status, DateTimeOffset now, TimeSpan maxPause, bool hasRetryAfter)
    {
        if (hasRetryAfter || status.Remaining != 0 || status.Reset is not { } reset || reset <= TimeSpan.Zero) return null;
        return now + (reset > maxPause ? maxPause : reset);
    }

    /// <summary>Takes the host's policy from <paramref name="status"/>, if it names one short enough to pace at.</summary>
    public void Update(in RateLimitStatus status, DateTimeOffset now)
    {
        if (status.Quota is not { } quota || quota < 1 || status.Window is not { } window || window > MaxPacingWindow) return;
        if (_pace is not null && quota == _quota && window == _window) return; // the same policy: its bucket goes on
        _quota = quota;
        _window = window;
        // quota × 0.9 per window = quota per window / 0.9; the bucket starts empty: the calls sent before the
        // announcement already spent the server's burst.
        var rate = RateLimit.Of((int)Math.Min(quota, int.MaxValue), TimeSpan.FromTicks((long)(window.Ticks / PaceShare)));
        _pace = new HostRateLimiter(rate, HostPolicyDefaults.Burst(rate), now, startEmpty: true);
    }

    /// <summary>When the pace lets the next call go (<paramref name="now"/> when it may go now, or when nothing paces the host).</summary>
    public DateTimeOffset NextPermitTime(DateTimeOffset now) => _pace?.NextPermitTime(now) ?? now;

    /// <summary>Takes a permit of the pace (call after <see cref="NextPermitTime"/> said now).</summary>
    public void TryAcquire(DateTimeOffset now) => _pace?.TryAcquire(now);
}
