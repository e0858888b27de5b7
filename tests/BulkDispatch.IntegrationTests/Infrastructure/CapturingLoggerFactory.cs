using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace BulkDispatch.IntegrationTests.Infrastructure;

/// <summary>Keeps every log record; usable as a logger factory (for the publisher) or a provider (for a host).</summary>
internal sealed class CapturingLoggerFactory : ILoggerFactory, ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, string Category, string Message)> Records { get; } = new();

    public IEnumerable<string> Warnings => Records.Where(r => r.Level >= LogLevel.Warning).Select(r => r.Message);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(CapturingLoggerFactory owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner.Records.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
