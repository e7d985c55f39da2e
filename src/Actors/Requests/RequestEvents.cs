namespace Courier.Requests;

/// <summary>
/// Published on the actor system's event stream each time a call schedules a retry, after the retry timer is set.
/// Subscribe to show retries as they happen (the demo does), or in tests to know when to advance a TestScheduler.
/// </summary>
/// <param name="CallId">The call's id.</param>
/// <param name="Call">The call, for display (its <c>ToString</c> masks query values and never shows headers).</param>
/// <param name="Retry">Which retry this is, from 1.</param>
/// <param name="MaxRetries">How many retries the call may make.</param>
/// <param name="Delay">The wait before the retry.</param>
/// <param name="Reason">What the failed attempt ran into (a status, a transport failure, a timeout).</param>
public sealed record RetryScheduled(long CallId, HttpCall Call, int Retry, int MaxRetries, TimeSpan Delay, string Reason);
