using Akka.Actor;
using Akka.Actor.Setup;
using Akka.Hosting.Logging;
using Courier.Diagnostics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Courier.Host.Cli;

/// <summary>
/// The runtime as the CLI runs it: configured from <c>appsettings.json</c>, then environment variables, then the command
/// line (later sources win), on a plain <see cref="ActorSystem"/> with a minimal configuration. A command runs once and
/// exits, so nothing of the .NET Generic Host is started (no dependency injection, no hosted services, no
/// <see cref="IHttpClientFactory"/>): that was about a fifth of the CPU of a one-shot <c>request</c> (bench/RESULTS.md, issue 13). What the
/// hosted runtime gets from the host, the CLI sets up by hand, once, here: the options bound and validated
/// (<see cref="HttpRuntimeOptions.Validate"/>), the named clients (<see cref="HttpRuntime.CreatePrimaryHandler"/>, a client
/// of their own for token requests, no timeout of theirs), logs through an <see cref="ILoggerFactory"/> on stderr, and the
/// OTLP export when it is configured (<see cref="OtlpExport"/>).
/// </summary>
internal sealed class RuntimeHost : IAsyncDisposable
{
    private readonly DeferredLoggerFactory _loggerFactory;
    private readonly IDisposable? _export;
    private readonly List<HttpClient> _clients;

    private RuntimeHost(ActorSystem system, IHttpRuntimeClient client, HttpRuntimeOptions options, DeferredLoggerFactory loggerFactory,
        IDisposable? export, List<HttpClient> clients)
    {
        System = system;
        Client = client;
        Options = options;
        _loggerFactory = loggerFactory;
        _export = export;
        _clients = clients;
    }

    public IHttpRuntimeClient Client { get; }

    public ActorSystem System { get; }

    /// <summary>The effective options (configuration, then the command's changes).</summary>
    public HttpRuntimeOptions Options { get; }

    /// <param name="commandLine">The configuration keys the command line sets.</param>
    /// <param name="verbose">Log from Information up; otherwise from <paramref name="quietLevel"/> up.</param>
    /// <param name="configure">Changes the options after configuration (the demo points them at its Sandbox).</param>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <param name="quietLevel">The lowest level logged without <c>--verbose</c>: Warning by default; commands that report
    /// every failure themselves pass a higher one, so that a failure is one line, not log entries and a line.</param>
    /// <param name="defaults">Configuration keys the command sets unless appsettings.json, the environment or the command
    /// line set them (<see cref="ProcessTuning.DownloadDefaults"/>).</param>
    /// <param name="ownThreads">Run the actors on threads of their own, one per core (Akka's fork-join executor), instead of
    /// the .NET thread pool the HTTP stack's continuations run on: for many calls in flight (<c>batch</c>), where it saves
    /// CPU per call (bench/RESULTS.md); a one-shot command would only pay for starting the threads.</param>
    public static async Task<RuntimeHost> StartAsync(IReadOnlyDictionary<string, string?> commandLine, bool verbose,
        Action<HttpRuntimeOptions>? configure = null, CancellationToken cancellationToken = default, LogLevel quietLevel = LogLevel.Warning,
        bool ownThreads = false, IReadOnlyDictionary<string, string?>? defaults = null)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var minimum = verbose ? LogLevel.Information : quietLevel;
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(defaults ?? new Dictionary<string, string?>()) // the command's defaults: every other source wins
            .AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true)
            .AddEnvironmentVariables()
            .AddInMemoryCollection(commandLine)
            .Build();

        var options = new HttpRuntimeOptions();
        configuration.GetSection(HttpRuntimeOptions.SectionName).Bind(options);
        configure?.Invoke(options);
        try
        {
            // Bad settings stop the command before anything starts, with a message naming the setting.
            options.Validate();
        }
        catch (ArgumentException ex)
        {
            throw new UsageException("Invalid configuration: " + ex.Message);
        }

        // Built on the first log line at or above the command's level: most commands log nothing, and building the console
        // logger, with the options, took about a tenth of a request's start-up (bench/RESULTS.md, issue 13).
        var loggerFactory = new DeferredLoggerFactory(minimum, () => LoggerFactory.Create(logging =>
        {
            logging.AddConfiguration(configuration.GetSection("Logging"));
            // Logs go to stderr: stdout carries the command's output (bodies, JSON).
            logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss.fff "; });
            logging.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            logging.AddFilter(l => l >= minimum);
            // The runtime logs through the logger factory (categories Courier.*), not through Akka's level below: the
            // command's level applies to it too, over appsettings' "Courier" entry.
            logging.AddFilter("Courier", minimum);
        }));
        var export = OtlpExport.StartIfConfigured(configuration);
        var clients = new List<HttpClient>();
        ActorSystem? system = null;
        try
        {
            system = ActorSystem.Create("courier", ActorSystemSetup.Create(
                BootstrapSetup.Create().WithConfig(AkkaConfig(minimum, ownThreads)),
                new LoggerFactorySetup(loggerFactory)));
            CourierTelemetry.Install(system, meterFactory: null, loggerFactory);

            // As the hosted runtime's named clients: the runtime's primary handler, the actors own every timeout, token
            // requests have a client (and a connection pool) of their own, so a refresh never queues behind calls, and
            // transfers one without automatic decompression, so that a download gets (and resumes) the server's bytes.
            HttpClient NewClient(bool decompress = true)
            {
                var client = new HttpClient(HttpRuntime.CreatePrimaryHandler(options, decompress)) { Timeout = Timeout.InfiniteTimeSpan };
                clients.Add(client);
                return client;
            }
            var calls = NewClient();
            var tokens = NewClient();
            var transfers = NewClient(decompress: false);
            var named = options.Credentials.Keys.ToDictionary(name => name, _ => NewClient(), StringComparer.OrdinalIgnoreCase);
            var actors = HttpRuntime.StartActors(system, options, () => calls, tokens, HttpRuntime.CoordinatorName, sharedLink: null,
                namedTokenClient: name => named[name], transferClientSource: () => transfers);
            return new RuntimeHost(system, new HttpRuntimeClient(actors, options), options, loggerFactory, export, clients);
        }
        catch
        {
            if (system is not null) await system.Terminate();
            foreach (var client in clients) client.Dispose();
            export?.Dispose();
            loggerFactory.Dispose();
            throw;
        }
    }

    /// <summary>Only what the CLI changes from Akka's defaults: no remoting or cluster is loaded, nothing else is started.</summary>
    private static string AkkaConfig(LogLevel minimum, bool ownThreads)
    {
        var level = minimum switch
        {
            <= LogLevel.Debug => "DEBUG",
            LogLevel.Information => "INFO",
            LogLevel.Warning => "WARNING",
            _ => "ERROR",
        };
        return $$"""
            akka {
              loglevel = {{level}}
              stdout-loglevel = OFF
              loggers = ["Akka.Hosting.Logging.LoggerFactoryLogger, Akka.Hosting"]
              log-dead-letters = off
              log-config-on-start = off
              coordinated-shutdown.run-by-clr-shutdown-hook = off
            }
            """ + (ownThreads ? OwnThreads : "");
    }

    // Akka's default is at least 8 threads (parallelism-min); on 2 cores 2 threads measured best for batch, 1 worse (bench/RESULTS.md).
    private const string OwnThreads = """

        akka.actor.default-dispatcher {
          executor = fork-join-executor
          fork-join-executor { parallelism-min = 2, parallelism-factor = 1.0, parallelism-max = 64 }
        }
        """;

    public async ValueTask DisposeAsync()
    {
        // The coordinators answer what they still hold when the system stops; then the clients, the export (flushed), the logs.
        await System.Terminate();
        foreach (var client in _clients) client.Dispose();
        _export?.Dispose();
        _loggerFactory.Dispose();
    }
}
