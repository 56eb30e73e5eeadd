using Microsoft.Extensions.Logging;

namespace Parley.Redis.Internal;

/// <summary>
/// Owns the current <see cref="PhysicalConnection"/> and replaces it when it breaks: exponential
/// backoff from <see cref="RedisOptions.ReconnectMinBackoff"/> to
/// <see cref="RedisOptions.ReconnectMaxBackoff"/> with equal jitter, until disposed. While no
/// connection is up, commands fail fast with <see cref="RedisConnectionException"/>.
/// </summary>
internal sealed class ReconnectingConnection : IAsyncDisposable
{
    private readonly RedisOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly string _role;
    private readonly Action<RespValue>? _onPush;
    private readonly Func<PhysicalConnection, CancellationToken, Task>? _onConnected;
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();
    private PhysicalConnection? _current;
    private Task _background = Task.CompletedTask;
    private string _endpoint;

    public ReconnectingConnection(
        RedisOptions options,
        ILogger logger,
        TimeProvider time,
        string role,
        Action<RespValue>? onPush = null,
        Func<PhysicalConnection, CancellationToken, Task>? onConnected = null)
    {
        _options = options;
        _logger = logger;
        _time = time;
        _role = role;
        _onPush = onPush;
        _onConnected = onConnected;
        _endpoint = options.Target;
    }

    public event EventHandler<ConnectionStateChangedEventArgs>? StateChanged;

    public object? EventSender { get; set; }

    public RedisOptions Options => _options;

    public TimeProvider Time => _time;

    public ILogger Logger => _logger;

    public bool IsConnected => _current is { IsFailed: false };

    internal PhysicalConnection? Current => _current;

    /// <summary>Connects once; on failure throws or, when <paramref name="throwOnFailure"/> is false, keeps trying in the background.</summary>
    public async Task StartAsync(bool throwOnFailure, CancellationToken cancellationToken)
    {
        try
        {
            await ConnectOnceAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (!throwOnFailure && e is not OperationCanceledException)
        {
            LogMessages.InitialConnectFailed(_logger, _role, _endpoint, e);
            lock (_lock)
            {
                _background = Task.Run(() => ReconnectLoopAsync(_disposed.Token), CancellationToken.None);
            }
        }
    }

    private async Task ConnectOnceAsync(CancellationToken cancellationToken)
    {
        ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
        var address = _options.UsesSentinels ? await AskSentinelsAsync(cancellationToken).ConfigureAwait(false) : _options.ParseEndpoint();
        var connection = await PhysicalConnection.ConnectAsync(_options, address, _time, _onPush, cancellationToken).ConfigureAwait(false);
        try
        {
            await HandshakeAsync(connection, cancellationToken).ConfigureAwait(false);
            if (_options.UsesSentinels) await CheckPrimaryAsync(connection, cancellationToken).ConfigureAwait(false);
            if (_onConnected is not null)
            {
                await _onConnected(connection, cancellationToken).ConfigureAwait(false);
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                connection.Fail(ThrowHelper.Disposed(_endpoint));
                return;
            }

            _current = connection;
            _endpoint = connection.Endpoint;
            _background = Task.Run(() => WatchAsync(connection), CancellationToken.None);
        }

        LogMessages.Connected(_logger, _role, _endpoint);
        RaiseStateChanged(true, null);
    }

    /// <summary>The primary's address from the first Sentinel that knows it (one pass over them: the reconnect loop retries).</summary>
    private async Task<(string Host, int Port)> AskSentinelsAsync(CancellationToken cancellationToken)
    {
        var failures = new List<string>();
        foreach (var sentinel in _options.Sentinels)
        {
            try
            {
                await using var connection = await PhysicalConnection.ConnectAsync(
                    _options, RedisOptions.ParseAddress(sentinel, "Sentinel"), _time, null, cancellationToken).ConfigureAwait(false);
                var ask = new RespWriter().WriteArrayHeader(3).WriteBulk("SENTINEL").WriteBulk("get-master-addr-by-name").WriteBulk(_options.SentinelPrimary!);
                var reply = await SendAsync(connection, ask, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
                if (reply.Type == RespType.Array && reply.Items is [var host, var port] && int.TryParse(port.AsString(), out var number))
                {
                    return (host.AsString()!, number);
                }

                failures.Add($"{sentinel} does not know '{_options.SentinelPrimary}'");
            }
            catch (RedisException e)
            {
                failures.Add($"{sentinel}: {e.Message}");
            }
        }

        throw new RedisConnectionException($"No Sentinel named the primary '{_options.SentinelPrimary}': {string.Join("; ", failures)}.");
    }

    // A Sentinel's answer can be stale for a moment of a failover: only a primary is kept (the reconnect loop asks again).
    private async Task CheckPrimaryAsync(PhysicalConnection connection, CancellationToken cancellationToken)
    {
        var info = new RespWriter().WriteArrayHeader(2).WriteBulk("INFO").WriteBulk("replication");
        var text = (await SendAsync(connection, info, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false)).AsString() ?? "";
        var role = text.Split('\n').Select(line => line.Trim()).FirstOrDefault(line => line.StartsWith("role:", StringComparison.Ordinal))?[5..];
        if (role != "master")
        {
            throw new RedisConnectionException($"Redis at {connection.Endpoint}, named primary '{_options.SentinelPrimary}' by a Sentinel, is a {role ?? "server of unknown role"}.");
        }
    }

    private async Task HandshakeAsync(PhysicalConnection connection, CancellationToken cancellationToken)
    {
        if (_options.Password is not null)
        {
            var auth = new RespWriter();
            if (_options.User is not null)
            {
                auth.WriteArrayHeader(3).WriteBulk("AUTH").WriteBulk(_options.User).WriteBulk(_options.Password);
            }
            else
            {
                auth.WriteArrayHeader(2).WriteBulk("AUTH").WriteBulk(_options.Password);
            }

            await SendAsync(connection, auth, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }

        if (_options.Database != 0)
        {
            var select = new RespWriter().WriteArrayHeader(2).WriteBulk("SELECT").WriteBulk(_options.Database);
            await SendAsync(connection, select, _options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task WatchAsync(PhysicalConnection connection)
    {
        var cause = await connection.Closed.ConfigureAwait(false);
        lock (_lock)
        {
            if (ReferenceEquals(_current, connection))
            {
                _current = null;
            }
        }

        if (_disposed.IsCancellationRequested)
        {
            return;
        }

        LogMessages.ConnectionLost(_logger, _role, _endpoint, cause);
        RaiseStateChanged(false, cause);
        await ReconnectLoopAsync(_disposed.Token).ConfigureAwait(false);
    }

    private async Task ReconnectLoopAsync(CancellationToken stop)
    {
        for (var attempt = 1; !stop.IsCancellationRequested; attempt++)
        {
            var delay = Backoff.Compute(attempt, _options.ReconnectMinBackoff, _options.ReconnectMaxBackoff, Random.Shared.NextDouble());
            try
            {
                await Task.Delay(delay, _time, stop).ConfigureAwait(false);
                await ConnectOnceAsync(stop).ConfigureAwait(false);
                return;
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (Exception e)
            {
                LogMessages.ReconnectFailed(_logger, _role, _endpoint, attempt, (long)delay.TotalMilliseconds, e);
            }
        }
    }

    private void RaiseStateChanged(bool connected, Exception? cause)
    {
        try
        {
            StateChanged?.Invoke(EventSender ?? this, new ConnectionStateChangedEventArgs(connected, cause));
        }
        catch (Exception e)
        {
            LogMessages.StateHandlerFailed(_logger, e);
        }
    }

    /// <summary>Sends on the current connection; fails fast when there is none.</summary>
    public Task<RespValue> SendAsync(RespWriter payload, TimeSpan timeout, CancellationToken cancellationToken, bool expectsReply = true)
    {
        var connection = _current;
        if (connection is null)
        {
            payload.Dispose();
            return Task.FromException<RespValue>(_disposed.IsCancellationRequested
                ? ThrowHelper.Disposed(_endpoint)
                : ThrowHelper.NotConnected(_endpoint));
        }

        return SendAsync(connection, payload, timeout, cancellationToken, expectsReply);
    }

    /// <summary>
    /// Sends on a given connection and waits for the reply up to <paramref name="timeout"/>. A
    /// timed-out or cancelled command keeps its place in the reply order; its reply is discarded.
    /// Error replies become <see cref="RedisServerException"/>.
    /// </summary>
    public async Task<RespValue> SendAsync(
        PhysicalConnection connection, RespWriter payload, TimeSpan timeout, CancellationToken cancellationToken, bool expectsReply = true)
    {
        var command = new PendingCommand(payload, expectsReply);
        if (!connection.TryEnqueue(command))
        {
            payload.Dispose();
            throw ThrowHelper.NotConnected(connection.Endpoint);
        }

        RespValue reply;
        try
        {
            reply = await command.Completion.Task.WaitAsync(timeout, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            command.Abandoned = true;
            // Only a full command timeout judges the connection: a caller's shorter one (the cache's) must not cut a
            // connection others share while Redis is merely slow.
            if (timeout >= _options.CommandTimeout && connection.AbortIfSilentSince(command)) LogMessages.ResetSilentConnection(_logger, _role, connection.Endpoint, timeout.TotalMilliseconds);
            throw new RedisTimeoutException($"Redis at {connection.Endpoint} did not answer within {timeout.TotalMilliseconds} ms.");
        }
        catch (OperationCanceledException)
        {
            command.Abandoned = true;
            throw;
        }

        if (!reply.IsError) return reply;
        var message = reply.AsString()!;
        // A primary demoted under us (a Sentinel failover) answers writes READONLY: drop the connection, so the
        // reconnect asks the Sentinels for the new primary.
        if (_options.UsesSentinels && message.StartsWith("READONLY", StringComparison.Ordinal))
        {
            connection.Fail(new RedisConnectionException($"Redis at {connection.Endpoint} is no longer the primary: {message}"));
        }

        throw new RedisServerException(message);
    }

    public async ValueTask DisposeAsync()
    {
        Task background;
        PhysicalConnection? connection;
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested)
            {
                return;
            }

            _disposed.Cancel();
            connection = _current;
            _current = null;
            background = _background;
        }

        if (connection is not null)
        {
            await connection.DisposeAsync().ConfigureAwait(false);
        }

        await background.ConfigureAwait(false);
        _disposed.Dispose();
    }
}

/// <summary>Reconnect delays: a pure function so it can be tested without time.</summary>
internal static class Backoff
{
    /// <summary>
    /// Exponential backoff with equal jitter: the ceiling doubles per attempt from
    /// <paramref name="min"/> up to <paramref name="max"/>, and the delay is half the ceiling plus
    /// a random share (<paramref name="random"/> in [0, 1)) of the other half.
    /// </summary>
    public static TimeSpan Compute(int attempt, TimeSpan min, TimeSpan max, double random)
    {
        var exponent = Math.Clamp(attempt - 1, 0, 30);
        var ceiling = Math.Min(min.Ticks * Math.Pow(2, exponent), max.Ticks);
        var ticks = (ceiling / 2) + (ceiling / 2 * Math.Clamp(random, 0, 1));
        return TimeSpan.FromTicks((long)Math.Max(ticks, min.Ticks / 2.0));
    }
}
