using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Realtime;

namespace Parley.Server.Tests.Features;

/// <summary>Access tokens never reach a log line, the request log at Information included.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class TokenLoggingTests(ParleyFixture fixture)
{
    [Fact]
    public async Task A_token_in_the_query_string_appears_in_no_log_line_at_information()
    {
        var capture = new LogCapture();
        // Information everywhere, and for hosting's request lines by name: the code's rule must still win.
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?>
        {
            ["Logging:LogLevel:Default"] = "Information",
            ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "Information",
        }, builder => builder.Services.AddSingleton<ILoggerProvider>(capture));
        var api = node.Api;
        var user = await api.NewUserAsync("logs");
        var conversation = await api.CreateConversationAsync(user);

        await using (var socket = await WsClient.ConnectAsync(api.Http.BaseAddress!, user.Token))
        {
            await api.SendMessageAsync(user, conversation, "over a socket authenticated by ?access_token=");
            await socket.WaitForMessagesAsync(1);
        }
        var token = Uri.EscapeDataString(user.Token);
        Assert.Equal(HttpStatusCode.BadRequest, (await api.Http.GetAsync($"/v1/ws?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await api.Http.GetAsync($"/v1/me?access_token={token}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await api.Http.GetAsync($"/nowhere?access_token={token}")).StatusCode);

        // The request log did write lines for these requests, so the absence below means something.
        await Eventually.True(() => Task.FromResult(capture.Lines.Any(l => l.Contains("/nowhere", StringComparison.Ordinal))), "a request-log line for /nowhere");
        Assert.Contains(capture.Lines, l => l.Contains("/v1/ws", StringComparison.Ordinal));
        var leaks = capture.Lines.Where(l => l.Contains(user.Token, StringComparison.Ordinal) || l.Contains(token, StringComparison.Ordinal)
            || l.Contains("access_token=", StringComparison.Ordinal)).ToList();
        Assert.True(leaks.Count == 0, "token in the log:\n" + string.Join("\n", leaks));
    }

    /// <summary>Keeps every log line: the formatted message, every structured value and the exception.</summary>
    private sealed class LogCapture : ILoggerProvider
    {
        public ConcurrentQueue<string> Lines { get; } = new();

        public ILogger CreateLogger(string categoryName) => new Logger(categoryName, Lines);

        public void Dispose()
        {
        }

        private sealed class Logger(string category, ConcurrentQueue<string> lines) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull
            {
                lines.Enqueue($"{category} scope: {Values(state)}");
                return null;
            }

            public bool IsEnabled(LogLevel logLevel) => true;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                lines.Enqueue($"{category} {logLevel}: {formatter(state, exception)} | {Values(state)} | {exception}");

            private static string Values<TState>(TState state) =>
                state is IEnumerable<KeyValuePair<string, object?>> values ? string.Join(", ", values.Select(v => $"{v.Key}={v.Value}")) : $"{state}";
        }
    }
}
