using Akka.Event;
using Microsoft.Extensions.Logging;
using AkkaLogLevel = Akka.Event.LogLevel;
using LogLevel = Microsoft.Extensions.Logging.LogLevel;

namespace Courier.Diagnostics;

/// <summary>
/// An <see cref="ILogger"/> that writes through an Akka <see cref="ILoggingAdapter"/>: what the runtime's log messages go
/// through when no <see cref="ILoggerFactory"/> was installed (a runtime started with <see cref="HttpRuntime"/>), so that
/// they still appear where Akka's log lines do, filtered by <c>akka.loglevel</c>.
/// </summary>
internal sealed class AkkaLogger(ILoggingAdapter adapter) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => ToAkka(logLevel) is { } level && adapter.IsEnabled(level);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (ToAkka(logLevel) is not { } level || !adapter.IsEnabled(level)) return;
        // Passed as an argument, never as the format: braces in the message must not be read as Akka's {0}.
        var message = formatter(state, exception);
        if (exception is null) adapter.Log(level, null, "{0}", message);
        else adapter.Log(level, exception, "{0}", message);
    }

    private static AkkaLogLevel? ToAkka(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => AkkaLogLevel.DebugLevel,
        LogLevel.Information => AkkaLogLevel.InfoLevel,
        LogLevel.Warning => AkkaLogLevel.WarningLevel,
        LogLevel.Error or LogLevel.Critical => AkkaLogLevel.ErrorLevel,
        _ => null,
    };
}
