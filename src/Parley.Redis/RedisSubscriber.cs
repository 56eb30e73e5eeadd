using System.Text;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Parley.Redis.Internal;

namespace Parley.Redis;

/// <summary>A message received on a subscribed channel.</summary>
/// <param name="Channel">The channel it was published to.</param>
/// <param name="Payload">The message bytes.</param>
public readonly record struct RedisChannelMessage(string Channel, ReadOnlyMemory<byte> Payload)
{
    /// <summary>The payload decoded as UTF-8.</summary>
    public string Text => Encoding.UTF8.GetString(Payload.Span);
}

/// <summary>
/// Pub/sub on a connection of its own (a subscribed Redis connection accepts no other commands).
/// Handlers run one at a time, in the order messages arrived, on a dispatch loop of their own, so a
/// slow handler delays later messages but never the socket. After a reconnect every channel with a
/// handler is subscribed again; messages published while disconnected are lost (pub/sub is
/// at-most-once; use streams for anything that must arrive).
/// </summary>
public sealed class RedisSubscriber : IAsyncDisposable
{
    private readonly ReconnectingConnection _connection;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, ChannelState> _channels = new(StringComparer.Ordinal);
    private readonly Channel<RedisChannelMessage> _inbox = Channel.CreateUnbounded<RedisChannelMessage>(
        new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private readonly Task _dispatchLoop;

    private RedisSubscriber(RedisOptions options, ILogger logger, TimeProvider time)
    {
        _connection = new ReconnectingConnection(options, logger, time, "subscriber", OnPush, ResubscribeAsync) { EventSender = this };
        _connection.StateChanged += (sender, e) => ConnectionStateChanged?.Invoke(sender, e);
        _dispatchLoop = Task.Run(DispatchLoopAsync);
    }

    /// <summary>Raised (on a background thread) whenever the connection comes up or goes down.</summary>
    public event EventHandler<ConnectionStateChangedEventArgs>? ConnectionStateChanged;

    /// <summary>True while the subscriber connection is up.</summary>
    public bool IsConnected => _connection.IsConnected;

    /// <summary>Connects; the same failure rules as <see cref="RedisClient.ConnectAsync"/>.</summary>
    public static async Task<RedisSubscriber> ConnectAsync(
        RedisOptions options, ILogger? logger = null, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var subscriber = new RedisSubscriber(options.Clone().Validate(), logger ?? NullLogger.Instance, timeProvider ?? TimeProvider.System);
        try
        {
            await subscriber._connection.StartAsync(options.AbortOnConnectFail, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await subscriber.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return subscriber;
    }

    /// <summary>
    /// Adds <paramref name="handler"/> for <paramref name="channel"/> and, for the first handler of
    /// that channel, waits until Redis confirms the subscription. On failure the handler is removed
    /// and the error thrown.
    /// </summary>
    public async Task SubscribeAsync(string channel, Func<RedisChannelMessage, Task> handler, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        ArgumentNullException.ThrowIfNull(handler);
        ChannelState state;
        bool first;
        lock (_lock)
        {
            first = !_channels.TryGetValue(channel, out state!);
            if (first)
            {
                state = new ChannelState();
                _channels[channel] = state;
            }

            state.Handlers = [.. state.Handlers, handler];
        }

        try
        {
            if (first)
            {
                var command = RedisClient.Command("SUBSCRIBE", 1).WriteBulk(channel);
                await _connection.SendAsync(command, _connection.Options.CommandTimeout, cancellationToken, expectsReply: false).ConfigureAwait(false);
            }

            await state.Confirmed.Task.WaitAsync(_connection.Options.CommandTimeout, _connection.Time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            RemoveHandler(channel, handler);
            if (e is TimeoutException)
            {
                throw new RedisTimeoutException($"Redis did not confirm the subscription to {channel} within {_connection.Options.CommandTimeout.TotalMilliseconds} ms.");
            }

            throw;
        }
    }

    /// <summary>Adds a synchronous handler; see <see cref="SubscribeAsync(string, Func{RedisChannelMessage, Task}, CancellationToken)"/>.</summary>
    public Task SubscribeAsync(string channel, Action<RedisChannelMessage> handler, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return SubscribeAsync(channel, m => { handler(m); return Task.CompletedTask; }, cancellationToken);
    }

    /// <summary>Removes every handler of <paramref name="channel"/> and unsubscribes (without waiting for the confirmation).</summary>
    public async Task UnsubscribeAsync(string channel, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(channel);
        lock (_lock)
        {
            if (!_channels.Remove(channel))
            {
                return;
            }
        }

        if (_connection.IsConnected)
        {
            var command = RedisClient.Command("UNSUBSCRIBE", 1).WriteBulk(channel);
            await _connection.SendAsync(command, _connection.Options.CommandTimeout, cancellationToken, expectsReply: false).ConfigureAwait(false);
        }
    }

    /// <summary>Channels that currently have handlers.</summary>
    public IReadOnlyCollection<string> Channels
    {
        get
        {
            lock (_lock)
            {
                return [.. _channels.Keys];
            }
        }
    }

    private void RemoveHandler(string channel, Func<RedisChannelMessage, Task> handler)
    {
        lock (_lock)
        {
            if (_channels.TryGetValue(channel, out var state))
            {
                state.Handlers = [.. state.Handlers.Where(h => h != handler)];
                if (state.Handlers.Length == 0)
                {
                    _channels.Remove(channel);
                }
            }
        }
    }

    /// <summary>Runs on every (re)connect before the connection is handed out.</summary>
    private async Task ResubscribeAsync(PhysicalConnection connection, CancellationToken cancellationToken)
    {
        string[] channels;
        lock (_lock)
        {
            foreach (var state in _channels.Values)
            {
                if (state.Confirmed.Task.IsCompleted)
                {
                    state.Confirmed = new(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }

            channels = [.. _channels.Keys];
        }

        if (channels.Length == 0)
        {
            return;
        }

        var command = RedisClient.Command("SUBSCRIBE", channels.Length);
        foreach (var channel in channels)
        {
            command.WriteBulk(channel);
        }

        try
        {
            await _connection.SendAsync(connection, command, _connection.Options.CommandTimeout, cancellationToken, expectsReply: false).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            LogMessages.ResubscribeFailed(_connection.Logger, channels.Length, e);
            throw;
        }
    }

    /// <summary>Called on the reader loop for every value; must not throw or block.</summary>
    private void OnPush(RespValue value)
    {
        if (value.ArrayOrNull is not { Length: >= 3 } parts)
        {
            return; // PONG and the like
        }

        var kind = parts[0].AsString();
        var channel = parts[1].AsString() ?? "";
        switch (kind)
        {
            case "message":
                _inbox.Writer.TryWrite(new RedisChannelMessage(channel, parts[2].AsMemory()));
                break;
            case "subscribe":
                lock (_lock)
                {
                    if (_channels.TryGetValue(channel, out var state))
                    {
                        state.Confirmed.TrySetResult();
                    }
                }

                break;
            default:
                break;
        }
    }

    private async Task DispatchLoopAsync()
    {
        await foreach (var message in _inbox.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            Func<RedisChannelMessage, Task>[] handlers;
            lock (_lock)
            {
                handlers = _channels.TryGetValue(message.Channel, out var state) ? state.Handlers : [];
            }

            foreach (var handler in handlers)
            {
                try
                {
                    await handler(message).ConfigureAwait(false);
                }
                catch (Exception e)
                {
                    LogMessages.SubscriptionHandlerFailed(_connection.Logger, message.Channel, e);
                }
            }
        }
    }

    /// <summary>Closes the connection and stops the dispatch loop once queued messages are handled.</summary>
    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        _inbox.Writer.TryComplete();
        await _dispatchLoop.ConfigureAwait(false);
    }

    private sealed class ChannelState
    {
        public Func<RedisChannelMessage, Task>[] Handlers { get; set; } = [];

        public TaskCompletionSource Confirmed { get; set; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
