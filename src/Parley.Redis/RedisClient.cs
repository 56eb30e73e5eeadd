using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Redis.Internal;

namespace Parley.Redis;

/// <summary>
/// A Redis client over one multiplexed, pipelined connection. Thread-safe: any number of callers
/// send concurrently; their commands are written in batches and replies matched in order.
/// Guarantees:
/// <list type="bullet">
/// <item>every command has a timeout (<see cref="RedisOptions.CommandTimeout"/> unless the call
/// gives one) and honours its <see cref="CancellationToken"/>; a command given up keeps its place in
/// the reply stream, so the replies of the others stay in step;</item>
/// <item>when the connection breaks, commands in flight fail with
/// <see cref="RedisConnectionException"/> (they may or may not have run) and the client reconnects
/// in the background with exponential backoff and jitter; meanwhile new commands fail fast with
/// <see cref="RedisConnectionException"/>, they are never queued;</item>
/// <item>error replies become <see cref="RedisServerException"/>.</item>
/// </list>
/// Blocking commands (<c>XREADGROUP ... BLOCK</c>, <c>BLPOP</c>) would stall every other caller on
/// the shared connection: run them on a client from <see cref="CreateDedicatedAsync"/>.
/// </summary>
public sealed partial class RedisClient : IAsyncDisposable
{
    private readonly ReconnectingConnection _connection;

    private RedisClient(RedisOptions options, ILogger logger, TimeProvider time, bool dedicated)
    {
        Options = options;
        IsDedicated = dedicated;
        _connection = new ReconnectingConnection(options, logger, time, dedicated ? "dedicated" : "client")
        {
            EventSender = this,
        };
        _connection.StateChanged += (sender, e) => ConnectionStateChanged?.Invoke(sender, e);
    }

    /// <summary>Raised (on a background thread) whenever the connection comes up or goes down.</summary>
    public event EventHandler<ConnectionStateChangedEventArgs>? ConnectionStateChanged;

    /// <summary>The settings in force (a validated copy of those given).</summary>
    public RedisOptions Options { get; }

    /// <summary>True while a connection is up.</summary>
    public bool IsConnected => _connection.IsConnected;

    /// <summary>True for a client made by <see cref="CreateDedicatedAsync"/>, meant for blocking commands.</summary>
    public bool IsDedicated { get; }

    /// <summary>
    /// Connects to <see cref="RedisOptions.Endpoint"/> (or the primary <see cref="RedisOptions.Sentinels"/> name). Throws <see cref="RedisConnectionException"/>
    /// when that fails, unless <see cref="RedisOptions.AbortOnConnectFail"/> is false, in which case
    /// the client is returned disconnected and keeps trying in the background.
    /// </summary>
    public static async Task<RedisClient> ConnectAsync(
        RedisOptions options, ILogger? logger = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var client = new RedisClient(options.Clone().Validate(), logger ?? NullLogger.Instance, timeProvider ?? TimeProvider.System, dedicated: false);
        await client.StartAsync(cancellationToken).ConfigureAwait(false);
        return client;
    }

    /// <summary>
    /// A new client with the same settings on its own connection, for blocking commands such as
    /// <see cref="XReadGroupAsync"/> with a block time. Dispose it when done.
    /// </summary>
    public async Task<RedisClient> CreateDedicatedAsync(CancellationToken cancellationToken = default)
    {
        var client = new RedisClient(Options, _connection.Logger, _connection.Time, dedicated: true);
        await client.StartAsync(cancellationToken).ConfigureAwait(false);
        return client;
    }

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _connection.StartAsync(Options.AbortOnConnectFail, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary><see cref="RedisOptions.KeyPrefix"/> followed by <paramref name="key"/>.</summary>
    public string Key(string key) => string.Concat(Options.KeyPrefix, key);

    /// <summary>
    /// Sends any command. Arguments may be string (sent as UTF-8), byte[], ReadOnlyMemory&lt;byte&gt;,
    /// long or int. Returns the raw reply; error replies throw <see cref="RedisServerException"/>.
    /// </summary>
    public Task<RespValue> ExecuteAsync(string command, IReadOnlyList<object>? args = null, TimeSpan? timeout = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        var writer = new RespWriter();
        try
        {
            writer.WriteArrayHeader(1 + (args?.Count ?? 0)).WriteBulk(command);
            if (args is not null)
            {
                for (var i = 0; i < args.Count; i++)
                {
                    writer.WriteArgument(args[i]);
                }
            }
        }
        catch
        {
            writer.Dispose();
            throw;
        }

        return SendAsync(writer, timeout, cancellationToken);
    }

    /// <summary>Sends any command with arguments given as raw bytes.</summary>
    public Task<RespValue> ExecuteAsync(string command, ReadOnlyMemory<byte>[] args, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        ArgumentNullException.ThrowIfNull(args);
        var writer = new RespWriter().WriteArrayHeader(1 + args.Length).WriteBulk(command);
        foreach (var arg in args)
        {
            writer.WriteBulk(arg.Span);
        }

        return SendAsync(writer, null, cancellationToken);
    }

    internal Task<RespValue> SendAsync(RespWriter command, TimeSpan? timeout, CancellationToken cancellationToken) =>
        _connection.SendAsync(command, timeout ?? Options.CommandTimeout, cancellationToken);

    /// <summary>Builds a command from parts; the helpers below use it to avoid boxing.</summary>
    internal static RespWriter Command(string name, int argumentCount) =>
        new RespWriter().WriteArrayHeader(1 + argumentCount).WriteBulk(name);

    /// <summary>Closes the connection; commands still in flight fail with <see cref="RedisConnectionException"/>.</summary>
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
