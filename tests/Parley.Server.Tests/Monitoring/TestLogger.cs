using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Parley.Server.Tests.Monitoring;

/// <summary>A logger that keeps what it is given, for asserting on event ids and messages.</summary>
internal sealed class TestLogger<T> : ILogger<T>
{
    public ConcurrentQueue<(LogLevel Level, EventId Id, string Message)> Entries { get; } = new();

    public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Enqueue((logLevel, eventId, formatter(state, exception)));

    public IReadOnlyList<string> Messages(int eventId) => [.. Entries.Where(e => e.Id.Id == eventId).Select(e => e.Message)];
}

internal static class Polling
{
    /// <summary>Retries <paramref name="probe"/> until it returns a value (bounded), for state that lands asynchronously.</summary>
    public static async Task<T> UntilAsync<T>(Func<Task<T?>> probe, string what, int attempts = 100, int delayMs = 100) where T : class
    {
        for (int i = 0; i < attempts; i++)
        {
            if (await probe() is { } value)
                return value;
            await Task.Delay(delayMs);
        }
        throw new Xunit.Sdk.XunitException($"Gave up waiting for {what} after {attempts} attempts.");
    }
}
