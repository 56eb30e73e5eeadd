using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;
using System.Threading.Channels;

namespace Parley.Kit.Chaos.Proxy;

/// <summary>
/// One client connection through a <see cref="FaultProxy"/>: a reader and a writer per direction with a bounded queue of chunks
/// between them, so latency is pipelined (each chunk is held until its own due time) and a slow writer pushes back on the reader.
/// </summary>
internal sealed class ProxyConnection
{
    private const int ChunkSize = 16 * 1024;
    private const int QueuedChunks = 64;
    private static readonly TimeSpan HoldPoll = TimeSpan.FromMilliseconds(10);

    private readonly FaultProxy _proxy;
    private readonly Socket _client;
    private readonly Socket _server = new(System.Net.Sockets.AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
    private readonly CancellationTokenSource _closed;
    private readonly long _openedAt = Stopwatch.GetTimestamp();
    private int _closing;

    public ProxyConnection(FaultProxy proxy, long id, Socket client, CancellationToken proxyDisposed)
    {
        _proxy = proxy;
        Id = id;
        _client = client;
        _closed = CancellationTokenSource.CreateLinkedTokenSource(proxyDisposed);
        _client.NoDelay = true;
        _server.NoDelay = true;
    }

    public long Id { get; }

    public async Task RunAsync()
    {
        try
        {
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_closed.Token))
            {
                connectTimeout.CancelAfter(FaultProxy.UpstreamConnectTimeout);
                await _server.ConnectAsync(_proxy.UpstreamEndPoint, connectTimeout.Token).ConfigureAwait(false);
            }
            await Task.WhenAll(
                PipeAsync(_client, _server, FaultDirection.Upstream),
                PipeAsync(_server, _client, FaultDirection.Downstream)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // upstream refused or gone, or the connection was closed by a fault: either way it ends here
        }
        finally
        {
            Close(reset: false);
        }
    }

    /// <summary>Closes both sides once; with <paramref name="reset"/> each side gets a TCP RST instead of a FIN.</summary>
    public void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closing, 1) == 1) return;
        _proxy.Forget(this);
        try
        {
            _closed.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // the proxy is being disposed
        }
        foreach (var socket in new[] { _client, _server })
        {
            try
            {
                if (reset) socket.LingerState = new LingerOption(true, 0);
                else if (socket.Connected) socket.Shutdown(SocketShutdown.Both);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // already closed by the peer
            }
            socket.Dispose();
        }
    }

    /// <summary>Fires timeout-with-close and reset_peer once their time has come (called by the proxy's monitor).</summary>
    public void CheckTimedFaults(ActiveFaults active, long now)
    {
        var start = Math.Max(active.SetAt, _openedAt);
        var elapsed = Stopwatch.GetElapsedTime(start, now);
        if (active.Faults.ResetPeer is { } reset && elapsed >= reset)
            Close(reset: true);
        else if (active.Faults.Timeout is { } timeout && timeout > TimeSpan.Zero && elapsed >= timeout)
            Close(reset: false);
    }

    private async Task PipeAsync(Socket from, Socket to, FaultDirection direction)
    {
        var queue = Channel.CreateBounded<Chunk>(new BoundedChannelOptions(QueuedChunks) { SingleReader = true, SingleWriter = true });
        var writer = WriteAsync(queue.Reader, to, direction);
        var ended = false;
        try
        {
            while (!ended)
            {
                var buffer = ArrayPool<byte>.Shared.Rent(ChunkSize);
                var read = 0;
                try
                {
                    read = await from.ReceiveAsync(buffer.AsMemory(0, ChunkSize), SocketFlags.None, _closed.Token).ConfigureAwait(false);
                }
                finally
                {
                    if (read == 0) ArrayPool<byte>.Shared.Return(buffer);
                }
                if (read == 0)
                    ended = true;
                else
                    await queue.Writer.WriteAsync(new Chunk(buffer, read, Stopwatch.GetTimestamp()), _closed.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException or ChannelClosedException)
        {
            Close(reset: false); // the peer reset, or a fault closed the connection
        }
        finally
        {
            queue.Writer.TryComplete();
        }
        try
        {
            // The sender closed its side: let the queued data out, then close (after slow_close, if set).
            await writer.ConfigureAwait(false);
            if (ended && _proxy.Faults(direction).Faults.SlowClose is { } slow && slow > TimeSpan.Zero)
                await Task.Delay(slow, _closed.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or ObjectDisposedException)
        {
            // closed meanwhile
        }
        Close(reset: false);
    }

    private async Task WriteAsync(ChannelReader<Chunk> queue, Socket to, FaultDirection direction)
    {
        ActiveFaults? limitFor = null;
        long limitSent = 0;
        var nextFreeAt = 0L; // bandwidth: when the link is free for the next byte (Stopwatch timestamp)
        await foreach (var chunk in queue.ReadAllAsync(_closed.Token).ConfigureAwait(false))
        {
            try
            {
                var active = _proxy.Faults(direction);
                // Partitioned: the chunk waits (and the bounded queue pushes back on the sender) until the fault goes.
                while (active.Faults.Hold)
                {
                    await Task.Delay(HoldPoll, _closed.Token).ConfigureAwait(false);
                    active = _proxy.Faults(direction);
                }
                var faults = active.Faults;
                if (faults.Timeout is not null)
                    continue; // Toxiproxy's timeout: swallowed
                if (faults.Latency > TimeSpan.Zero || faults.Jitter > TimeSpan.Zero)
                {
                    var jitter = faults.Jitter > TimeSpan.Zero ? (Random.Shared.NextDouble() * 2 - 1) * faults.Jitter.TotalMilliseconds : 0;
                    var delay = TimeSpan.FromMilliseconds(Math.Max(0, faults.Latency.TotalMilliseconds + jitter));
                    var wait = delay - Stopwatch.GetElapsedTime(chunk.ReadAt);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, _closed.Token).ConfigureAwait(false);
                }
                var data = chunk.Buffer.AsMemory(0, chunk.Length);
                if (faults.LatencyOnContent is { } slowed && slowed.Matches(data.Span))
                {
                    var wait = slowed.Delay + faults.Latency - Stopwatch.GetElapsedTime(chunk.ReadAt);
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, _closed.Token).ConfigureAwait(false);
                }
                if (faults.ResetOnContent is { } content && content.Fires(data.Span))
                {
                    Close(reset: true);
                    return;
                }
                var closeAfter = false;
                if (faults.LimitBytes is { } limit)
                {
                    if (!ReferenceEquals(limitFor, active))
                    {
                        limitFor = active;
                        limitSent = 0;
                    }
                    var allowed = (int)Math.Max(0, Math.Min(data.Length, limit - limitSent));
                    closeAfter = limitSent + data.Length >= limit;
                    data = data[..allowed];
                    limitSent += allowed;
                }
                if (faults.BandwidthBytesPerSecond is { } rate)
                {
                    var now = Stopwatch.GetTimestamp();
                    var start = Math.Max(now, nextFreeAt);
                    nextFreeAt = start + (long)(data.Length * (double)Stopwatch.Frequency / rate);
                    var wait = Stopwatch.GetElapsedTime(now, nextFreeAt);
                    if (wait > LinkFaults.MaxDelay) wait = LinkFaults.MaxDelay;
                    if (wait > TimeSpan.Zero) await Task.Delay(wait, _closed.Token).ConfigureAwait(false);
                }
                if (faults.Slicer is { } slicer)
                    await SendSlicedAsync(to, data, slicer, direction).ConfigureAwait(false);
                else
                    await SendAsync(to, data, direction).ConfigureAwait(false);
                if (closeAfter)
                {
                    Close(reset: false);
                    return;
                }
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(chunk.Buffer);
            }
        }
    }

    private async Task SendSlicedAsync(Socket to, ReadOnlyMemory<byte> data, Slicer slicer, FaultDirection direction)
    {
        while (!data.IsEmpty)
        {
            var size = Math.Clamp(slicer.AverageSize + Random.Shared.Next(-slicer.SizeVariation, slicer.SizeVariation + 1), 1, data.Length);
            await SendAsync(to, data[..size], direction).ConfigureAwait(false);
            data = data[size..];
            if (!data.IsEmpty && slicer.Delay > TimeSpan.Zero)
                await Task.Delay(slicer.Delay, _closed.Token).ConfigureAwait(false);
        }
    }

    private async Task SendAsync(Socket to, ReadOnlyMemory<byte> data, FaultDirection direction)
    {
        while (!data.IsEmpty)
        {
            var sent = await to.SendAsync(data, SocketFlags.None, _closed.Token).ConfigureAwait(false);
            _proxy.Delivered(direction, sent);
            data = data[sent..];
        }
    }

    private readonly record struct Chunk(byte[] Buffer, int Length, long ReadAt);
}
