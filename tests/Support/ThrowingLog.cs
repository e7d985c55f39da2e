using Akka.Event;

namespace Courier.Tests.Support;

/// <summary>
/// A logging adapter that throws when asked to log at <paramref name="level"/> (and is silent otherwise): given to the
/// request path, it makes an actor throw inside its receive, the way any unexpected bug would (the RequestActor logs a
/// 5xx at error level).
/// </summary>
internal sealed class ThrowingLog(LogLevel level) : LoggingAdapterBase(DefaultLogMessageFormatter.Instance)
{
    public override bool IsDebugEnabled => level == LogLevel.DebugLevel;
    public override bool IsInfoEnabled => level == LogLevel.InfoLevel;
    public override bool IsWarningEnabled => level == LogLevel.WarningLevel;
    public override bool IsErrorEnabled => level == LogLevel.ErrorLevel;

    protected override void NotifyLog(LogLevel logLevel, object message, Exception cause) =>
        throw new InvalidOperationException("the logger failed");
}
