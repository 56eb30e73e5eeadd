namespace Parley.Redis.Internal;

/// <summary>Builds exceptions out of line so hot paths stay small.</summary>
internal static class ThrowHelper
{
    public static RespProtocolException Protocol(string what) => new($"Invalid RESP from the server: {what}.");

    public static RedisConnectionException NotConnected(string endpoint) =>
        new($"Not connected to Redis at {endpoint}; the client is reconnecting in the background. Retry later or check that redis-server is running.");

    public static RedisConnectionException Broken(string endpoint, Exception? cause) =>
        new($"The connection to Redis at {endpoint} broke while the command was in flight; it may or may not have run.", cause);

    public static RedisConnectionException Disposed(string endpoint) =>
        new($"The Redis client for {endpoint} has been disposed.");
}
