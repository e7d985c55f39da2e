using Akka.Hosting;
using Courier.Requests;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Courier.Hosting;

/// <summary>Registers the runtime's services with Microsoft.Extensions.DependencyInjection.</summary>
public static class ServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="HttpRuntimeOptions"/> (bound from <paramref name="configuration"/>, usually the <c>Courier</c>
    /// section, then <paramref name="configure"/>), the named <see cref="HttpClient"/> the runtime sends through
    /// (<see cref="HttpRuntime.HttpClientName"/>, primary handler from <see cref="HttpRuntime.CreatePrimaryHandler"/>), and
    /// <see cref="IHttpRuntimeClient"/>. Pair it with <see cref="AkkaHostingExtensions.WithHttpRuntime"/> inside <c>AddAkka</c>.
    /// </summary>
    /// <remarks>
    /// File transfers go through <see cref="HttpRuntime.TransferHttpClientName"/>, which is built from the returned
    /// client's configuration: the same delegating handlers (each handler factory is called again for it, so it must give
    /// a new handler each time, as <see cref="IHttpClientFactory"/> requires), the same primary handler with its automatic
    /// decompression switched off when it is a <see cref="SocketsHttpHandler"/> or an <see cref="HttpClientHandler"/>
    /// (another primary handler is used as it is: it should not decompress; so is one instance the application's factory
    /// also hands to the <see cref="HttpRuntime.HttpClientName"/> client, whose calls keep their decompression), the same
    /// lifetime, client settings and loggers (<c>RemoveAllLoggers</c>, <c>AddLogger</c>).
    /// Configuration given to <see cref="HttpRuntime.TransferHttpClientName"/> itself is replaced by that copy.
    /// </remarks>
    /// <returns>The builder of the named client, to add handlers or replace the primary handler (tests do).</returns>
    public static IHttpClientBuilder AddHttpRuntime(this IServiceCollection services, IConfiguration? configuration = null,
        Action<HttpRuntimeOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = services.AddOptions<HttpRuntimeOptions>();
        if (configuration is not null) options.Bind(configuration);
        if (configure is not null) options.Configure(configure);
        // Bad settings stop the host at start with a message naming the setting, not at the first call.
        services.AddSingleton<IValidateOptions<HttpRuntimeOptions>>(new ValidateMethod<HttpRuntimeOptions>(o => o.Validate()));
        options.ValidateOnStart();

        services.AddSingleton<IHttpRuntimeClient>(sp =>
        {
            var coordinator = sp.GetRequiredService<IRequiredActor<RequestCoordinator>>();
            var registry = sp.GetRequiredService<ActorRegistry>();
            return new HttpRuntimeClient(
                ct => coordinator.GetAsync(ct),
                async ct =>
                {
                    await coordinator.GetAsync(ct).ConfigureAwait(false); // both are registered in the same start-up step
                    return registry.TryGet<Auth.TokenActor>(out var tokens) ? tokens : null;
                },
                sp.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value,
                async ct =>
                {
                    await coordinator.GetAsync(ct).ConfigureAwait(false);
                    return registry.TryGet<Transfers.TransferCoordinator>(out var transfers) ? transfers : null;
                },
                async ct =>
                {
                    await coordinator.GetAsync(ct).ConfigureAwait(false);
                    return registry.TryGet<Auth.CredentialsSupervisor>(out var credentials) ? credentials : null;
                });
        });

        // Each named credential's token requests go through a client of its own, Courier.Auth.{name}, set up like Courier.Auth.
        services.AddSingleton<IConfigureOptions<HttpClientFactoryOptions>, NamedTokenClientSetup>();
        // Transfers go through Courier.Transfers: the Courier client's pipeline without automatic decompression.
        services.AddSingleton<IPostConfigureOptions<HttpClientFactoryOptions>, TransferClientSetup>();

        // Token requests have a client of their own: a refresh can never go through (or recurse into) the request path.
        services.AddHttpClient(HttpRuntime.TokenHttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => HttpRuntime.CreatePrimaryHandler(sp.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value))
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);

        return services.AddHttpClient(HttpRuntime.HttpClientName)
            .ConfigurePrimaryHttpMessageHandler(sp => HttpRuntime.CreatePrimaryHandler(sp.GetRequiredService<IOptions<HttpRuntimeOptions>>().Value))
            // SocketsHttpHandler recycles connections itself (PooledConnectionLifetime): the factory need not rotate handlers.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan)
            .ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan); // the actors own every timeout
    }
}

/// <summary>
/// Sets up the token clients of named credentials (<c>Courier.Auth.{name}</c>, names not known when services are
/// registered) as <see cref="HttpRuntime.TokenHttpClientName"/> is: the runtime's primary handler, no timeout of their own.
/// </summary>
internal sealed class NamedTokenClientSetup(IOptions<HttpRuntimeOptions> runtime) : IConfigureNamedOptions<HttpClientFactoryOptions>
{
    private const string Prefix = HttpRuntime.TokenHttpClientName + ".";

    public void Configure(string? name, HttpClientFactoryOptions options)
    {
        if (name is null || !name.StartsWith(Prefix, StringComparison.Ordinal)) return;
        options.HttpMessageHandlerBuilderActions.Add(builder => builder.PrimaryHandler = HttpRuntime.CreatePrimaryHandler(runtime.Value));
        options.HttpClientActions.Add(client => client.Timeout = Timeout.InfiniteTimeSpan);
        options.HandlerLifetime = Timeout.InfiniteTimeSpan;
    }

    public void Configure(HttpClientFactoryOptions options) => Configure(Options.DefaultName, options);
}

/// <summary>
/// Builds <see cref="HttpRuntime.TransferHttpClientName"/> from the <see cref="HttpRuntime.HttpClientName"/> client's
/// configuration (after every other configuration of both, so that what applies to all clients, such as
/// <c>ConfigureHttpClientDefaults</c>, is in the copy once): its handler builder actions (primary handler, delegating
/// handlers) then one that switches the primary handler's decompression off (unless the calls' chain holds that very
/// instance), its client actions, its handler lifetime, its loggers and which header values its logs redact.
/// The options monitor is resolved when the transfer client is first built, not injected: it depends on this class.
/// </summary>
internal sealed class TransferClientSetup(IServiceProvider services) : IPostConfigureOptions<HttpClientFactoryOptions>
{
    public void PostConfigure(string? name, HttpClientFactoryOptions options)
    {
        if (name != HttpRuntime.TransferHttpClientName) return;
        var calls = services.GetRequiredService<IOptionsMonitor<HttpClientFactoryOptions>>().Get(HttpRuntime.HttpClientName);
        options.HttpMessageHandlerBuilderActions.Clear();
        foreach (var action in calls.HttpMessageHandlerBuilderActions) options.HttpMessageHandlerBuilderActions.Add(action);
        options.HttpMessageHandlerBuilderActions.Add(static builder =>
        {
            // One instance the application's factory hands to both clients: switching it off would switch the calls'
            // decompression off too (or throw once they have sent). It is left as it is: transfers then read decoded bodies.
            if (!UsedByCalls(builder)) HttpRuntime.SwitchOffDecompression(builder.PrimaryHandler);
        });
        options.HttpClientActions.Clear();
        foreach (var action in calls.HttpClientActions) options.HttpClientActions.Add(action);
        options.HandlerLifetime = calls.HandlerLifetime;
        options.SuppressHandlerScope = calls.SuppressHandlerScope;
        options.ShouldRedactHeaderValue = calls.ShouldRedactHeaderValue; // a header redacted in the calls' logs is in the transfers' too
        CopyLoggers(calls, options);
    }

    // RemoveAllLoggers, AddLogger and AddDefaultLogger keep what they set in members HttpClientFactoryOptions does not make
    // public; without them the transfers would log with the default loggers whatever the Courier client was given.
    private static readonly System.Reflection.PropertyInfo? SuppressDefaultLogging =
        typeof(HttpClientFactoryOptions).GetProperty("SuppressDefaultLogging", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);

    private static readonly System.Reflection.PropertyInfo? LoggingBuilderActions =
        typeof(HttpClientFactoryOptions).GetProperty("LoggingBuilderActions", System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.NonPublic);

    private static void CopyLoggers(HttpClientFactoryOptions calls, HttpClientFactoryOptions transfers)
    {
        if (SuppressDefaultLogging is { PropertyType: var type } suppress && type == typeof(bool))
            suppress.SetValue(transfers, suppress.GetValue(calls));
        if (LoggingBuilderActions?.GetValue(calls) is IList<Action<HttpMessageHandlerBuilder>> from
            && LoggingBuilderActions.GetValue(transfers) is IList<Action<HttpMessageHandlerBuilder>> to)
        {
            to.Clear();
            foreach (var action in from) to.Add(action);
        }
    }

    /// <summary>Whether the primary handler being built for the transfers is also in the calls' handler chain.</summary>
    private static bool UsedByCalls(HttpMessageHandlerBuilder builder)
    {
        if (builder.PrimaryHandler is not (SocketsHttpHandler or HttpClientHandler)) return false;
        var calls = builder.Services.GetRequiredService<IHttpMessageHandlerFactory>().CreateHandler(HttpRuntime.HttpClientName);
        for (HttpMessageHandler? handler = calls; handler is not null; handler = (handler as DelegatingHandler)?.InnerHandler)
            if (ReferenceEquals(handler, builder.PrimaryHandler)) return true;
        return false;
    }
}

/// <summary>
/// Turns an options class's <c>Validate()</c> exceptions (which name the configuration key) into an options validation
/// result, so that bad settings stop the host at start. Shared by every options class the hosting extensions register.
/// </summary>
internal sealed class ValidateMethod<TOptions>(Action<TOptions> validate) : IValidateOptions<TOptions> where TOptions : class
{
    public ValidateOptionsResult Validate(string? name, TOptions options)
    {
        try
        {
            validate(options);
            return ValidateOptionsResult.Success;
        }
        catch (ArgumentException ex)
        {
            return ValidateOptionsResult.Fail(ex.Message);
        }
    }
}
