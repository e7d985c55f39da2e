using System.Collections.Concurrent;
using System.Diagnostics;
using Akka.Actor;

namespace Courier.Diagnostics;

/// <summary>
/// The span of every running call that has one, by call id, with the RequestActor that runs it: how the TokenActor finds
/// the spans of the calls that wait for its refresh, to link them, without the token protocol carrying trace data. A token
/// request is matched only when it comes from that RequestActor: anyone can send a <see cref="Auth.GetToken"/> with any id.
/// </summary>
internal static class CallTraces
{
    private static readonly ConcurrentDictionary<long, (ActivityContext Context, IActorRef Runner)> Running = new();

    public static void Register(long callId, ActivityContext context, IActorRef runner) => Running[callId] = (context, runner);

    public static void Unregister(long callId) => Running.TryRemove(callId, out _);

    public static bool TryGet(long callId, IActorRef sender, out ActivityContext context)
    {
        context = default;
        if (!Running.TryGetValue(callId, out var running) || !running.Runner.Equals(sender)) return false;
        context = running.Context;
        return true;
    }
}

/// <summary>Starting spans from actor code without touching the actor thread's <see cref="Activity.Current"/>.</summary>
internal static class Spans
{
    /// <summary>
    /// Starts a span under <paramref name="parent"/> (a root span when it is default, never a child of whatever
    /// <see cref="Activity.Current"/> the thread has) and leaves <see cref="Activity.Current"/> as it was.
    /// </summary>
    public static Activity? Start(string operation, string displayName, ActivityKind kind, ActivityContext parent,
        IEnumerable<ActivityLink>? links = null, DateTimeOffset startTime = default)
    {
        var source = CourierActivities.Source;
        if (!source.HasListeners()) return null;
        var saved = Activity.Current;
        Activity.Current = null; // with a default parent, StartActivity would adopt Activity.Current
        try
        {
            var activity = source.StartActivity(operation, kind, parent, tags: null, links, startTime);
            if (activity is not null) activity.DisplayName = displayName;
            return activity;
        }
        finally
        {
            Activity.Current = saved; // StartActivity made the new span current
        }
    }

    /// <summary>Stops <paramref name="activity"/> without changing the thread's <see cref="Activity.Current"/>.</summary>
    public static void Stop(Activity? activity)
    {
        if (activity is null) return;
        var saved = Activity.Current;
        activity.Stop(); // Stop sets Current to the span's parent when the span was current
        Activity.Current = saved == activity ? null : saved;
    }

    /// <summary>The OpenTelemetry convention's method value: a known method, or <c>_OTHER</c> (bounded cardinality).</summary>
    public static string MethodTag(HttpMethod method) => method.Method switch
    {
        "GET" or "HEAD" or "POST" or "PUT" or "DELETE" or "CONNECT" or "OPTIONS" or "TRACE" or "PATCH" or "QUERY" => method.Method,
        _ => "_OTHER",
    };

    /// <summary><c>error.type</c> for an exception of an attempt: the <see cref="HttpRequestError"/> when known, else the type.</summary>
    public static string ErrorType(Exception error) => error switch
    {
        HttpRequestException { HttpRequestError: not HttpRequestError.Unknown } http => http.HttpRequestError switch
        {
            HttpRequestError.NameResolutionError => "name_resolution_error",
            HttpRequestError.ConnectionError => "connection_error",
            HttpRequestError.SecureConnectionError => "secure_connection_error",
            HttpRequestError.HttpProtocolError => "http_protocol_error",
            HttpRequestError.ExtendedConnectNotSupported => "extended_connect_not_supported",
            HttpRequestError.VersionNegotiationError => "version_negotiation_error",
            HttpRequestError.UserAuthenticationError => "user_authentication_error",
            HttpRequestError.ProxyTunnelError => "proxy_tunnel_error",
            HttpRequestError.InvalidResponse => "invalid_response",
            HttpRequestError.ResponseEnded => "response_ended",
            HttpRequestError.ConfigurationLimitExceeded => "configuration_limit_exceeded",
            _ => error.GetType().FullName!,
        },
        _ => error.GetType().FullName!,
    };

    public static string StatusClass(int status) => status switch
    {
        < 200 => "1xx",
        < 300 => "2xx",
        < 400 => "3xx",
        < 500 => "4xx",
        _ => "5xx",
    };
}
