using Microsoft.Extensions.Logging;

namespace Courier.Host.Cli;

/// <summary>
/// A logger factory that builds the real one (<paramref name="create"/>) only when the first entry at or above
/// <paramref name="minimum"/> is logged. The real factory filters out everything below <paramref name="minimum"/> anyway,
/// so what is logged is the same; a command that logs nothing never pays for building it.
/// </summary>
internal sealed class DeferredLoggerFactory(LogLevel minimum, Func<ILoggerFactory> create) : ILoggerFactory
{
    private readonly Lazy<ILoggerFactory> _factory = new(create, LazyThreadSafetyMode.ExecutionAndPublication);

    public ILogger CreateLogger(string categoryName) => new DeferredLogger(this, categoryName);

    public void AddProvider(ILoggerProvider provider) => _factory.Value.AddProvider(provider);

    /// <summary>Disposes the real factory (which flushes the console) if it was built.</summary>
    public void Dispose()
    {
        if (_factory.IsValueCreated) _factory.Value.Dispose();
    }

    private bool Passes(LogLevel level) => level >= minimum && level != LogLevel.None;

    private sealed class DeferredLogger(DeferredLoggerFactory owner, string category) : ILogger
    {
        private readonly Lazy<ILogger> _logger = new(() => owner._factory.Value.CreateLogger(category), LazyThreadSafetyMode.ExecutionAndPublication);

        public bool IsEnabled(LogLevel logLevel) => owner.Passes(logLevel) && _logger.Value.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (owner.Passes(logLevel)) _logger.Value.Log(logLevel, eventId, state, exception, formatter);
        }

        // The CLI's console format leaves scopes out: a scope begun before the first entry need not build the factory.
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => _logger.IsValueCreated ? _logger.Value.BeginScope(state) : null;
    }
}
