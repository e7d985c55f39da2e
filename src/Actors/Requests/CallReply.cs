using Akka.Actor;

namespace Courier.Requests;

/// <summary>
/// The reply address of a call made through the facade: an actor reference that completes a task when the coordinator
/// answers. It replaces <c>Ask</c>, which registers a temporary actor and starts a timeout timer for every call; the
/// coordinator answers every call exactly once (also when it stops), so neither is needed.
/// </summary>
internal sealed class CallReply : MinimalActorRef
{
    private readonly TaskCompletionSource<CallResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CallReply(IActorRefProvider provider, ActorPath path)
    {
        Provider = provider;
        Path = path;
    }

    public Task<CallResult> Task => _completion.Task;

    public override ActorPath Path { get; }

    public override IActorRefProvider Provider { get; }

    protected override void TellInternal(object message, IActorRef sender)
    {
        if (message is CallResult result) TryComplete(result);
    }

    /// <summary>Completes the caller's task; a second answer (the coordinator's, after a local cancellation) releases what it holds.</summary>
    public void TryComplete(CallResult result)
    {
        if (!_completion.TrySetResult(result) && result is CallSucceeded late) late.Response.Dispose();
    }
}
