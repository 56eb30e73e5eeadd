using Microsoft.Extensions.Logging;

namespace Parley.Redis.Internal;

/// <summary>Source-generated log messages of the Redis client; event ids 3000-3099.</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = 3000, Level = LogLevel.Information, Message = "Redis {Role} connected to {Endpoint}")]
    public static partial void Connected(ILogger logger, string role, string endpoint);

    [LoggerMessage(EventId = 3001, Level = LogLevel.Warning, Message = "Redis {Role} connection to {Endpoint} lost; reconnecting")]
    public static partial void ConnectionLost(ILogger logger, string role, string endpoint, Exception cause);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Debug, Message = "Redis {Role} reconnect attempt {Attempt} to {Endpoint} failed; next in {DelayMs} ms")]
    public static partial void ReconnectFailed(ILogger logger, string role, string endpoint, int attempt, long delayMs, Exception cause);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Warning, Message = "Redis {Role}: first connection to {Endpoint} failed; retrying in the background")]
    public static partial void InitialConnectFailed(ILogger logger, string role, string endpoint, Exception cause);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Warning, Message = "Redis ConnectionStateChanged handler threw")]
    public static partial void StateHandlerFailed(ILogger logger, Exception error);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Warning, Message = "Redis {Role} connection to {Endpoint} silent since a command that timed out after {TimeoutMs} ms; reset, reconnecting")]
    public static partial void ResetSilentConnection(ILogger logger, string role, string endpoint, double timeoutMs);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Debug, Message = "Lua script {Sha} not cached on the server (NOSCRIPT); loading it")]
    public static partial void ScriptReloaded(ILogger logger, string sha);

    [LoggerMessage(EventId = 3020, Level = LogLevel.Warning, Message = "Redis subscription handler for {Channel} threw")]
    public static partial void SubscriptionHandlerFailed(ILogger logger, string channel, Exception error);

    [LoggerMessage(EventId = 3021, Level = LogLevel.Warning, Message = "Redis resubscribe to {Count} channels failed")]
    public static partial void ResubscribeFailed(ILogger logger, int count, Exception error);
}
