using System.Diagnostics;
using System.Text.Json;
using Courier.Diagnostics;

namespace Courier.Requests;

/// <summary>
/// One HTTP call as the runtime runs it: immutable and replayable, so every attempt sends the same request.
/// Build it directly, or let <see cref="HttpRuntimeClient.SendAsync(HttpRequestMessage, CancellationToken)"/> build it
/// from an <see cref="HttpRequestMessage"/>.
/// </summary>
/// <param name="Method">The HTTP method.</param>
/// <param name="Uri">An absolute http or https URL (a relative one is resolved against <see cref="HttpRuntimeOptions.BaseAddress"/> by the client facade).</param>
public sealed record HttpCall(HttpMethod Method, Uri Uri)
{
    private static long _lastId;

    /// <summary>
    /// Copies (<c>with</c>, <see cref="WithHeader"/>) are new calls with ids of their own: two calls in flight never share an
    /// id, which is what cancellation and the coordinator's bookkeeping go by.
    /// </summary>
    private HttpCall(HttpCall original)
    {
        Method = original.Method;
        Uri = original.Uri;
        Id = NextId();
        Headers = original.Headers;
        Body = original.Body;
        RetryNonIdempotent = original.RetryNonIdempotent;
        Anonymous = original.Anonymous;
        AttemptTimeout = original.AttemptTimeout;
        Deadline = original.Deadline;
        MaxRetries = original.MaxRetries;
        Completion = original.Completion;
        Version = original.Version;
        VersionPolicy = original.VersionPolicy;
        RequestOptions = original.RequestOptions;
        TraceParent = original.TraceParent;
        Credential = original.Credential;
        IsTransfer = original.IsTransfer;
        // Every init property but Id is copied: HttpCallCopyTests sets each one and checks a copy keeps it.
    }

    internal static long NextId() => Interlocked.Increment(ref _lastId);

    /// <summary>A process-wide unique id, used to cancel the call and in log lines. A copy made with <c>with</c> gets a new one.</summary>
    public long Id { get; init; } = NextId();

    /// <summary>Request headers (not content headers), in order. Never printed by <see cref="ToString"/>.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Headers { get; init; } = [];

    /// <summary>The body, replayed on every attempt; null for none.</summary>
    public RequestBody? Body { get; init; }

    /// <summary>
    /// Allow retries of a non-idempotent method (POST, PATCH) after the request may have reached the server.
    /// An <c>Idempotency-Key</c> header has the same effect.
    /// </summary>
    public bool RetryNonIdempotent { get; init; }

    /// <summary>
    /// Send the call without an access token, and never refresh for it. Calls that set the token header themselves are
    /// treated the same way.
    /// </summary>
    public bool Anonymous { get; init; }

    /// <summary>Overrides <see cref="HttpRuntimeOptions.AttemptTimeout"/> for this call.</summary>
    public TimeSpan? AttemptTimeout { get; init; }

    /// <summary>Overrides <see cref="HttpRuntimeOptions.CallDeadline"/> for this call.</summary>
    public TimeSpan? Deadline { get; init; }

    /// <summary>Overrides <see cref="RetryOptions.MaxRetries"/> for this call.</summary>
    public int? MaxRetries { get; init; }

    /// <summary>
    /// When the call completes: <see cref="HttpCompletionOption.ResponseContentRead"/> (the default) buffers the body inside
    /// the attempt, so a body cut off mid-way is retried; <see cref="HttpCompletionOption.ResponseHeadersRead"/> hands back
    /// a response whose body the caller streams.
    /// </summary>
    public HttpCompletionOption Completion { get; init; } = HttpCompletionOption.ResponseContentRead;

    /// <summary>
    /// The HTTP version every attempt asks for; null for <see cref="HttpRuntimeOptions.HttpVersion"/> (HTTP/2 with
    /// fallback by default, h2c on loopback when <see cref="HttpRuntimeOptions.Http2PriorKnowledgeOnLoopback"/> is set).
    /// </summary>
    public Version? Version { get; init; }

    /// <summary>The version policy every attempt uses; null for <see cref="HttpRuntimeOptions.HttpVersionPolicy"/>.</summary>
    public HttpVersionPolicy? VersionPolicy { get; init; }

    /// <summary>
    /// Entries copied into every attempt's <see cref="HttpRequestMessage.Options"/> (what the caller set on its request,
    /// for handlers below the runtime: telemetry, per-request settings). Never printed.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, object?>> RequestOptions { get; init; } = [];

    /// <summary>
    /// The named credential whose token the call carries (<see cref="HttpRuntimeOptions.Credentials"/>); null for the
    /// default one (<see cref="HttpRuntimeOptions.Auth"/>). An unknown name fails the call at once with an
    /// <see cref="Errors.InvalidHttpCallException"/> naming it.
    /// </summary>
    public string? Credential { get; init; }

    /// <summary>
    /// The span the call's own span is a child of: <see cref="Activity.Current"/> where the call was created (a copy keeps
    /// its original's), or default for none (the call's span then starts a trace). The attempts, and the <c>traceparent</c>
    /// HttpClient sends, belong to this trace even though the call runs on actors, where <see cref="Activity.Current"/> does
    /// not flow. Set it to run a call under another span.
    /// </summary>
    public ActivityContext TraceParent { get; init; } = Activity.Current?.Context ?? default;

    /// <summary>
    /// A request of a file transfer: it goes through the transfer client (<see cref="RequestRuntime.TransferClientSource"/>,
    /// no automatic decompression), so that the bytes the transfer reads are the bytes the server sent.
    /// </summary>
    internal bool IsTransfer { get; init; }

    /// <summary>Whether the call carries an <c>Idempotency-Key</c> header.</summary>
    public bool HasIdempotencyKey
    {
        get
        {
            foreach (var header in Headers)
                if (string.Equals(header.Key, "Idempotency-Key", StringComparison.OrdinalIgnoreCase)) return true;
            return false;
        }
    }

    /// <summary>Creates a GET call.</summary>
    public static HttpCall Get(Uri uri) => new(HttpMethod.Get, uri);

    /// <summary>Creates a POST call with a JSON body.</summary>
    public static HttpCall PostJson<T>(Uri uri, T value, JsonSerializerOptions? options = null) =>
        new(HttpMethod.Post, uri) { Body = RequestBody.Json(value, options) };

    /// <summary>Returns a copy with one more header.</summary>
    public HttpCall WithHeader(string name, string value) => this with { Headers = [.. Headers, new(name, value)] };

    /// <summary>Method and URL with query values masked: never headers or body.</summary>
    public override string ToString() => $"{Method.Method} {SafeUrl.Format(Uri)} (call {Id})";
}
