using Akka.Actor;
using Akka.Hosting;
using Courier.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Courier.Host.Cli;

/// <summary>
/// The runtime as the CLI runs it: the .NET Generic Host with Akka.Hosting and IHttpClientFactory, configured from
/// <c>appsettings.json</c>, then environment variables, then the command line (later sources win).
/// </summary>
internal sealed class RuntimeHost : IAsyncDisposable
{
    private readonly IHost _host;

    private RuntimeHost(IHost host)
    {
        _host = host;
        Client = host.Services.GetRequiredService<IHttpRuntimeClient>();
        System = host.Services.GetRequiredService<ActorSystem>();
    }

    public IHttpRuntimeClient Client { get; }

    public ActorSystem System { get; }

    public IServiceProvider Services => _host.Services;

    public static async Task<RuntimeHost> StartAsync(IReadOnlyDictionary<string, string?> commandLine, bool verbose,
        Action<HttpRuntimeOptions>? configure = null, CancellationToken cancellationToken = default)
    {
        var builder = Microsoft.Extensions.Hosting.Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings
        {
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Configuration
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(commandLine);
        builder.Logging.AddConfiguration(builder.Configuration.GetSection("Logging"));
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
        builder.Logging.AddFilter(l => l >= (verbose ? LogLevel.Information : LogLevel.Warning));
        // Logs go to stderr: stdout carries the command's output (bodies, JSON).
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName), configure);
        builder.Services.AddAkka("courier", akka => akka
            .ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = verbose ? Akka.Event.LogLevel.InfoLevel : Akka.Event.LogLevel.WarningLevel;
                loggers.ClearLoggers();
                loggers.AddLoggerFactory();
            })
            .AddHocon("akka.log-dead-letters = off\nakka.coordinated-shutdown.run-by-clr-shutdown-hook = off", HoconAddMode.Prepend)
            .WithHttpRuntime());

        var host = builder.Build();
        try
        {
            await host.StartAsync(cancellationToken);
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            host.Dispose();
            throw new UsageException("Invalid configuration: " + string.Join("; ", ex.Failures));
        }
        return new RuntimeHost(host);
    }

    public async ValueTask DisposeAsync()
    {
        await _host.StopAsync();
        _host.Dispose();
    }
}
