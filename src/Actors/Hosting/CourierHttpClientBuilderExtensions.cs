using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Hosting;

/// <summary>Puts the runtime under an existing <see cref="HttpClient"/>: typed clients, Refit, Kiota, plain named clients.</summary>
public static class CourierHttpClientBuilderExtensions
{
    /// <summary>
    /// Sends every request of this client through the runtime (<see cref="CourierDelegatingHandler"/>): the runtime's access
    /// token, retries, retry budget and cap on calls in flight apply, and the request goes out through the runtime's own
    /// primary handler. Call it last on the builder: handlers added after it never run. Needs
    /// <see cref="ServiceCollectionExtensions.AddHttpRuntime"/> and <see cref="AkkaHostingExtensions.WithHttpRuntime"/>.
    /// </summary>
    /// <param name="builder">The client's builder.</param>
    /// <param name="configure">This client's settings, kept as named options under the client's name (configure or bind them
    /// elsewhere with <c>services.Configure&lt;CourierClientOptions&gt;(name, ...)</c> as well).</param>
    /// <returns>The same builder.</returns>
    public static IHttpClientBuilder AddCourier(this IHttpClientBuilder builder, Action<CourierClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var name = builder.Name;
        var options = builder.Services.AddOptions<CourierClientOptions>(name);
        if (configure is not null) options.Configure(configure);
        options.Validate(o =>
        {
            o.Validate(name);
            return true;
        });
        return builder.AddHttpMessageHandler(sp => new CourierDelegatingHandler(
            sp.GetRequiredService<IHttpRuntimeClient>(),
            sp.GetRequiredService<IOptionsMonitor<CourierClientOptions>>().Get(name),
            name));
    }
}
