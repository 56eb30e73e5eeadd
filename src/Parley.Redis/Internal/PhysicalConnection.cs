using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;

namespace Parley.Redis.Internal;

/// <summary>One command on its way: the serialised bytes until written, then a slot awaiting its reply.</summary>
internal sealed class PendingCommand(RespWriter payload, bool expectsReply)
{
    public RespWriter Payload { get; } = payload;

    public bool ExpectsReply { get; } = expectsReply;

    public TaskCompletionSource<RespValue> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>
    /// Set when the caller stopped waiting (timeout or cancellation). A command not yet written is
    /// then skipped; one already written keeps its slot in the FIFO and its reply is dropped.
    /// </summary>
    public volatile bool Abandoned;

    /// <summary>When the writer sent it (<see cref="TimeProvider"/> timestamp); 0 until then.</summary>
    public long WrittenAt;
}

/// <summary>
/// One TCP connection to Redis with one writer loop and one reader loop. Commands queue in an
/// unbounded channel; the writer batches whatever is queued into one send and appends the
/// commands to the in-flight FIFO in the order written; the reader matches each reply to the head
/// of the FIFO. The first failure of either loop fails every queued and in-flight command with
/// <see cref="RedisConnectionException"/> and completes <see cref="Closed"/>; the connection is
/// never reused after that (the owner makes a new one).
/// In push mode (pub/sub) replies are not matched but handed to the push callback.
/// </summary>
internal sealed class PhysicalConnection : IAsyncDisposable
{
    private const int BatchSize = 64 * 1024;
    private const int ReadBufferSize = 64 * 1024;

    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly string _endpoint;
    private readonly RespReader _reader;
    private readonly Action<RespValue>? _onPush;
    private readonly TimeProvider _time;
    private long _lastReadAt;
    private readonly Channel<PendingCommand> _outbox = Channel.CreateUnbounded<PendingCommand>(
        new UnboundedChannelOptions { SingleReader = false, SingleWriter = false });
    private readonly ConcurrentQueue<PendingCommand> _inFlight = new();
    private readonly Lock _failLock = new();
    private readonly TaskCompletionSource<Exception> _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private bool _failed;
    private Task _writerLoop = Task.CompletedTask;
    private Task _readerLoop = Task.CompletedTask;

    private PhysicalConnection(Socket socket, Stream stream, string endpoint, RedisOptions options, TimeProvider time, Action<RespValue>? onPush)
    {
        _socket = socket;
        _stream = stream;
        _time = time;
        _endpoint = endpoint;
        _reader = new RespReader(options.MaxBulkLength, options.MaxNestingDepth);
        _onPush = onPush;
    }

    /// <summary>Completes with the cause once the connection has failed or was closed.</summary>
    public Task<Exception> Closed => _closed.Task;

    public bool IsFailed => Volatile.Read(ref _failed);

    /// <summary>Commands written and not yet answered (for diagnostics and tests).</summary>
    /// <summary>The <c>host:port</c> this connection reached.</summary>
    public string Endpoint => _endpoint;

    public int InFlightCount => _inFlight.Count;

    /// <summary>Connects to <paramref name="address"/> (TCP, keepalive, then TLS when <see cref="RedisOptions.Tls"/>), all within the connect timeout.</summary>
    public static async Task<PhysicalConnection> ConnectAsync(
        RedisOptions options, (string Host, int Port) address, TimeProvider time, Action<RespValue>? onPush, CancellationToken cancellationToken)
    {
        var endpoint = $"{address.Host}:{address.Port}";
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Stream? stream = null;
        try
        {
            using var timeout = new CancellationTokenSource(options.ConnectTimeout, time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeout.Token, cancellationToken);
            try
            {
                await socket.ConnectAsync(RedisOptions.ToEndPoint(address), linked.Token).ConfigureAwait(false);
                KeepAlive(socket, options.KeepAlive);
                stream = new NetworkStream(socket, ownsSocket: false);
                if (options.Tls) stream = await AuthenticateAsync(stream, options, address.Host, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new RedisConnectionException($"Connecting to Redis at {endpoint} timed out after {options.ConnectTimeout.TotalMilliseconds} ms.");
            }
            catch (SocketException e)
            {
                throw new RedisConnectionException($"Cannot connect to Redis at {endpoint}: {e.SocketErrorCode}. Is redis-server running there?", e);
            }
            catch (Exception e) when (e is System.Security.Authentication.AuthenticationException or IOException)
            {
                throw new RedisConnectionException($"TLS with Redis at {endpoint} failed: {e.Message}", e);
            }
        }
        catch
        {
            if (stream is not null) await stream.DisposeAsync().ConfigureAwait(false);
            socket.Dispose();
            throw;
        }

        var connection = new PhysicalConnection(socket, stream, endpoint, options, time, onPush);
        connection._writerLoop = Task.Run(connection.WriteLoopAsync, CancellationToken.None);
        connection._readerLoop = Task.Run(connection.ReadLoopAsync, CancellationToken.None);
        return connection;
    }

    // Probes every third of the idle time and gives up after 3: a vanished peer breaks the connection within twice the idle time.
    private static void KeepAlive(Socket socket, TimeSpan idle)
    {
        if (idle == Timeout.InfiniteTimeSpan) return;
        var seconds = Math.Max(1, (int)idle.TotalSeconds);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, seconds);
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, Math.Max(1, seconds / 3));
        socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveRetryCount, 3);
    }

    private static async Task<Stream> AuthenticateAsync(Stream inner, RedisOptions options, string host, CancellationToken ct)
    {
        var ssl = new SslStream(inner, leaveInnerStreamOpen: false);
        var client = new SslClientAuthenticationOptions { TargetHost = options.TlsHost ?? host };
        if (options.TlsCaFile is not null)
        {
            // A private CA: the chain must end at one of these roots (not the system's store), and the name must match.
            var roots = new X509Certificate2Collection();
            roots.ImportFromPemFile(options.TlsCaFile);
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(roots);
            client.CertificateChainPolicy = policy;
        }

        try
        {
            await ssl.AuthenticateAsClientAsync(client, ct).ConfigureAwait(false);
            return ssl;
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Queues a command; false when the connection has failed (the caller still owns the command).</summary>
    public bool TryEnqueue(PendingCommand command) => _outbox.Writer.TryWrite(command);

    private async Task WriteLoopAsync()
    {
        var batch = ArrayPool<byte>.Shared.Rent(BatchSize);
        var written = new List<PendingCommand>();
        try
        {
            while (await _outbox.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                var length = 0;
                written.Clear();
                while (length < BatchSize && _outbox.Reader.TryRead(out var command))
                {
                    if (command.Abandoned)
                    {
                        command.Payload.Dispose();
                        command.Completion.TrySetCanceled();
                        continue;
                    }

                    var bytes = command.Payload.WrittenSpan;
                    if (batch.Length - length < bytes.Length)
                    {
                        var bigger = ArrayPool<byte>.Shared.Rent(length + bytes.Length);
                        batch.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(batch);
                        batch = bigger;
                    }

                    bytes.CopyTo(batch.AsSpan(length));
                    length += bytes.Length;
                    command.Payload.Dispose();
                    written.Add(command);
                }

                if (written.Count == 0)
                {
                    continue;
                }

                lock (_failLock)
                {
                    if (_failed)
                    {
                        FailAll(written, _closed.Task.Result);
                        return;
                    }

                    var now = _time.GetTimestamp();
                    foreach (var command in written)
                    {
                        command.WrittenAt = now;
                        if (command.ExpectsReply)
                        {
                            _inFlight.Enqueue(command);
                        }
                    }
                }

                await _stream.WriteAsync(batch.AsMemory(0, length)).ConfigureAwait(false);
                foreach (var command in written)
                {
                    if (!command.ExpectsReply)
                    {
                        command.Completion.TrySetResult(RespValue.NullBulkString);
                    }
                }

                if (batch.Length > BatchSize * 4)
                {
                    ArrayPool<byte>.Shared.Return(batch);
                    batch = ArrayPool<byte>.Shared.Rent(BatchSize);
                }
            }
        }
        catch (Exception e)
        {
            Fail(e);
            FailAll(written.Where(c => !c.ExpectsReply), e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(batch);
        }
    }

    private async Task ReadLoopAsync()
    {
        var buffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                var received = await _stream.ReadAsync(buffer.AsMemory(end)).ConfigureAwait(false);
                if (received == 0)
                {
                    throw new RedisConnectionException($"Redis at {_endpoint} closed the connection.");
                }

                Volatile.Write(ref _lastReadAt, _time.GetTimestamp());
                end += received;
                if (end - start >= _reader.MinimumNeeded)
                {
                    while (start < end && _reader.TryRead(buffer.AsSpan(start, end - start), out var value, out var consumed))
                    {
                        start += consumed;
                        Dispatch(value);
                    }
                }

                if (start == end)
                {
                    start = end = 0;
                    continue;
                }

                // Ensure room for the rest of the partial reply (the NpgsqlReadBuffer.Ensure shape).
                var pending = end - start;
                var needed = Math.Max(_reader.MinimumNeeded, pending + 1);
                if (needed > buffer.Length)
                {
                    var bigger = ArrayPool<byte>.Shared.Rent(Math.Max(needed, buffer.Length * 2));
                    buffer.AsSpan(start, pending).CopyTo(bigger);
                    ArrayPool<byte>.Shared.Return(buffer);
                    buffer = bigger;
                    start = 0;
                    end = pending;
                }
                else if (end == buffer.Length || buffer.Length - start < needed)
                {
                    buffer.AsSpan(start, pending).CopyTo(buffer);
                    start = 0;
                    end = pending;
                }
            }
        }
        catch (Exception e)
        {
            Fail(e);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private void Dispatch(RespValue value)
    {
        // A subscriber's connection answers its handshake (AUTH, SELECT, the primary check) before it subscribes, so a
        // reply with a command waiting is that command's; after, it sends only commands that expect no reply, and all
        // that arrives is pushed.
        if (_onPush is not null && _inFlight.IsEmpty)
        {
            _onPush(value);
            return;
        }

        if (!_inFlight.TryDequeue(out var command))
        {
            throw ThrowHelper.Protocol("a reply arrived with no command waiting for it");
        }

        command.Completion.TrySetResult(value);
    }

    /// <summary>
    /// Called when <paramref name="command"/> timed out. If not one byte arrived since it was written, the connection is
    /// taken as dead (a partition, a hung server) and reset: what is still unsent dies with it instead of running late, the
    /// commands queued behind it fail at once instead of each waiting out its own timeout, and the owner reconnects.
    /// </summary>
    public bool AbortIfSilentSince(PendingCommand command)
    {
        var written = command.WrittenAt;
        if (written == 0 || Volatile.Read(ref _lastReadAt) >= written) return false;
        Fail(new RedisConnectionException($"Redis at {_endpoint} sent nothing since a command that timed out; the connection was reset."), reset: true);
        return true;
    }

    /// <summary>Fails the connection once: every queued and in-flight command gets the error. <paramref name="reset"/>: close with RST, dropping unsent data.</summary>
    public void Fail(Exception cause, bool reset = false)
    {
        var victims = new List<PendingCommand>();
        lock (_failLock)
        {
            if (_failed)
            {
                return;
            }

            Volatile.Write(ref _failed, true);
            _closed.TrySetResult(cause);
            while (_inFlight.TryDequeue(out var command))
            {
                victims.Add(command);
            }
        }

        _outbox.Writer.TryComplete();
        while (_outbox.Reader.TryRead(out var queued))
        {
            queued.Payload.Dispose();
            victims.Add(queued);
        }

        try
        {
            if (reset) _socket.LingerState = new LingerOption(true, 0);
            else _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception)
        {
            // Already closed by the peer; disposing below is what matters.
        }

        _stream.Dispose();
        _socket.Dispose();
        FailAll(victims, cause);
    }

    private void FailAll(IEnumerable<PendingCommand> commands, Exception cause)
    {
        var error = cause as RedisConnectionException ?? ThrowHelper.Broken(_endpoint, cause);
        foreach (var command in commands)
        {
            command.Completion.TrySetException(error);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Fail(ThrowHelper.Disposed(_endpoint));
        await Task.WhenAll(_writerLoop, _readerLoop).ConfigureAwait(false);
    }
}
