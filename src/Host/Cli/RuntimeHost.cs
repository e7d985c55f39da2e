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

    /// <param name="commandLine">The configuration keys the command line sets.</param>
    /// <param name="verbose">Log from Information up; otherwise from <paramref name="quietLevel"/> up.</param>
    /// <param name="configure">Changes the options after configuration (the demo points them at its Sandbox).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="quietLevel">The lowest level logged without <c>--verbose</c>: Warning by default; commands that report
    /// every failure themselves pass a higher one, so that a failure is one line, not log entries and a line.</param>
    public static async Task<RuntimeHost> StartAsync(IReadOnlyDictionary<string, string?> commandLine, bool verbose,
        Action<HttpRuntimeOptions>? configure = null, CancellationToken cancellationToken = default, LogLevel quietLevel = LogLevel.Warning)
    {
        var minimum = verbose ? LogLevel.Information : quietLevel;
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
        builder.Logging.AddFilter(l => l >= minimum);
        // The runtime logs through ILoggerFactory (categories Courier.*), not through Akka's level below: the command's level
        // applies to it too, over appsettings' "Courier" entry (as it applied through Akka's level before).
        builder.Logging.AddFilter("Courier", minimum);
        // Logs go to stderr: stdout carries the command's output (bodies, JSON).
        builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);

        builder.Services.AddHttpRuntime(builder.Configuration.GetSection(HttpRuntimeOptions.SectionName), configure);
        OtlpExport.AddIfConfigured(builder.Services, builder.Configuration);
        builder.Services.AddAkka("courier", akka => akka
            .ConfigureLoggers(loggers =>
            {
                loggers.LogLevel = minimum switch
                {
                    <= LogLevel.Debug => Akka.Event.LogLevel.DebugLevel,
                    LogLevel.Information => Akka.Event.LogLevel.InfoLevel,
                    LogLevel.Warning => Akka.Event.LogLevel.WarningLevel,
                    _ => Akka.Event.LogLevel.ErrorLevel,
                };
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
