namespace Courier.Requests;

/// <summary>
/// Asks the <see cref="RequestCoordinator"/> to run a call. The coordinator answers the sender with exactly one
/// <see cref="CallResult"/>: <see cref="CallSucceeded"/> or <see cref="CallFailed"/>.
/// </summary>
public sealed record ExecuteCall(HttpCall Call)
{
    /// <inheritdoc />
    public override string ToString() => $"ExecuteCall({Call})";
}

/// <summary>Cancels a call by id: a queued call is dropped, a running one aborts its attempt and any scheduled retry.</summary>
public sealed record CancelCall(long CallId);

/// <summary>The one answer to an <see cref="ExecuteCall"/>.</summary>
public abstract record CallResult(long CallId, int Attempts);

/// <summary>
/// The call succeeded (2xx). Ownership of <see cref="Response"/> passes to the receiver, who must dispose it;
/// the runtime never touches it again.
/// </summary>
public sealed record CallSucceeded(long CallId, HttpResponseMessage Response, int Attempts) : CallResult(CallId, Attempts)
{
    /// <inheritdoc />
    public override string ToString() => $"CallSucceeded(call {CallId}, {(int)Response.StatusCode}, {Attempts} attempt(s))";
}

/// <summary>
/// The call failed. <see cref="Error"/> is an <see cref="Errors.HttpCallException"/> or an
/// <see cref="Errors.HttpCallCanceledException"/>.
/// </summary>
public sealed record CallFailed(long CallId, Exception Error, int Attempts) : CallResult(CallId, Attempts)
{
    /// <inheritdoc />
    public override string ToString() => $"CallFailed(call {CallId}, {Error.GetType().Name}, {Attempts} attempt(s))";
}
