using System.Globalization;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Primitives;

namespace Courier.Sandbox.Faults;

/// <summary>The fault-injection instructions carried by one request's <c>X-Fault-*</c> headers.</summary>
internal readonly record struct FaultPlan(
    int LatencyMs,
    long HangFirst,
    long AbortFirst,
    long FailFirst,
    int FailStatus,
    string? RetryAfter)
{
    public const int DefaultFailStatus = StatusCodes.Status503ServiceUnavailable;

    public static FaultPlan Parse(IHeaderDictionary headers) => new(
        LatencyMs: (int)Math.Min(ReadCount(headers, SandboxHeaders.LatencyMs), int.MaxValue),
        HangFirst: ReadCount(headers, SandboxHeaders.HangFirst),
        AbortFirst: ReadCount(headers, SandboxHeaders.AbortFirst),
        FailFirst: ReadCount(headers, SandboxHeaders.FailFirst),
        FailStatus: ReadStatus(headers),
        RetryAfter: headers.TryGetValue(SandboxHeaders.RetryAfter, out var retryAfter) ? retryAfter.ToString() : null);

    /// <summary>What to do with the request of the given attempt number. Hang wins over abort, abort over fail.</summary>
    public FaultAction ActionFor(long attempt) =>
        attempt <= HangFirst ? FaultAction.Hang
        : attempt <= AbortFirst ? FaultAction.Abort
        : attempt <= FailFirst ? FaultAction.Fail
        : FaultAction.None;

    private static long ReadCount(IHeaderDictionary headers, string name) =>
        headers.TryGetValue(name, out var value) && TryParse(value, out var count) && count > 0 ? count : 0;

    private static int ReadStatus(IHeaderDictionary headers) =>
        headers.TryGetValue(SandboxHeaders.FaultStatus, out var value) && TryParse(value, out var status) && status is >= 200 and <= 599
            ? (int)status
            : DefaultFailStatus;

    private static bool TryParse(StringValues value, out long result) =>
        long.TryParse(value.Count == 1 ? value[0] : value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out result);
}

/// <summary>The fault chosen for one request.</summary>
internal enum FaultAction
{
    None,
    Hang,
    Abort,
    Fail,
}
