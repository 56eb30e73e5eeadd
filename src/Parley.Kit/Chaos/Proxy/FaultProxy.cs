using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Parley.Kit.Chaos.Proxy;

/// <summary>
/// A TCP proxy on 127.0.0.1 that forwards to one upstream server and injects Toxiproxy's faults per direction
/// (<see cref="LinkFaults"/>), switchable at runtime from any thread. <see cref="SetDown"/> closes the listening port
/// and every connection (clients see "connection refused"); <see cref="SetDown"/>(false) listens on the same port again.
/// Every loop ends on <see cref="DisposeAsync"/>; every wait is bounded by <see cref="LinkFaults.MaxDelay"/>.
/// </summary>
public sealed class FaultProxy : IAsyncDisposable
{
    /// <summary>How long the proxy waits to connect upstream before closing the client's connection.</summary>
    public static readonly TimeSpan UpstreamConnectTimeout = TimeSpan.FromSeconds(5);

    private static readonly TimeSpan MonitorInterval = TimeSpan.FromMilliseconds(10);

    private readonly ConcurrentDictionary<long, ProxyConnection> _connections = new();
    private readonly CancellationTokenSource _disposed = new();
    private readonly Lock _lock = new();
    private readonly Task _monitor;
    private ActiveFaults _upstream = new(LinkFaults.None, 0);
    private ActiveFaults _downstream = new(LinkFaults.None, 0);
    private Socket? _listener;
    private Task _acceptLoop = Task.CompletedTask;
    private long _nextId;
    private long _accepted;
    private long _bytesUp;
    private long _bytesDown;

    private FaultProxy(string name, IPEndPoint upstream)
    {
        Name = name;
        UpstreamEndPoint = upstream;
        _monitor = Task.Run(MonitorAsync);
    }

    /// <summary>A label for reports (<c>primary</c>, <c>redis</c>, ...).</summary>
    public string Name { get; }

    /// <summary>The server the proxy forwards to.</summary>
    public IPEndPoint UpstreamEndPoint { get; }

    /// <summary>The proxy's port on 127.0.0.1; the same after <see cref="SetDown"/>(false).</summary>
    public int Port { get; private set; }

    /// <summary><c>127.0.0.1:port</c> of the proxy.</summary>
    public string Endpoint => $"127.0.0.1:{Port}";

    public bool IsDown { get; private set; }

    /// <summary>Connections currently open through the proxy.</summary>
    public int OpenConnections => _connections.Count;

    /// <summary>Connections accepted since start.</summary>
    public long AcceptedConnections => Interlocked.Read(ref _accepted);

    /// <summary>Bytes delivered to the upstream server since start.</summary>
    public long BytesUpstream => Interlocked.Read(ref _bytesUp);

    /// <summary>Bytes delivered to clients since start.</summary>
    public long BytesDownstream => Interlocked.Read(ref _bytesDown);

    public LinkFaults UpstreamFaults => Volatile.Read(ref _upstream).Faults;

    public LinkFaults DownstreamFaults => Volatile.Read(ref _downstream).Faults;

    /// <summary>Starts a proxy to <paramref name="upstream"/> listening on <paramref name="port"/> (0: an ephemeral port).</summary>
    public static FaultProxy Start(string name, IPEndPoint upstream, int port = 0)
    {
        ArgumentNullException.ThrowIfNull(upstream);
        var proxy = new FaultProxy(name, upstream);
        try
        {
            proxy.Listen(port);
        }
        catch
        {
            proxy._disposed.Cancel();
            throw;
        }
        return proxy;
    }

    /// <summary>Starts a proxy to <c>127.0.0.1:<paramref name="upstreamPort"/></c>.</summary>
    public static FaultProxy Start(string name, int upstreamPort) => Start(name, new IPEndPoint(IPAddress.Loopback, upstreamPort));

    /// <summary>Replaces the faults of <paramref name="direction"/> (one or both). Takes effect on the next chunk of every connection.</summary>
    public void Set(FaultDirection direction, LinkFaults faults)
    {
        ArgumentNullException.ThrowIfNull(faults);
        faults.Validate();
        var active = new ActiveFaults(faults, Stopwatch.GetTimestamp());
        if (direction.HasFlag(FaultDirection.Upstream)) Volatile.Write(ref _upstream, active);
        if (direction.HasFlag(FaultDirection.Downstream)) Volatile.Write(ref _downstream, active);
    }

    /// <summary>Removes every fault in both directions (does not bring a down proxy up).</summary>
    public void Clear() => Set(FaultDirection.Both, LinkFaults.None);

    /// <summary>
    /// Down: stops listening (new connections are refused) and closes every open connection. Up: listens again on the same port.
    /// </summary>
    public void SetDown(bool down)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed.IsCancellationRequested, this);
            if (down == IsDown) return;
            IsDown = down;
            if (down)
            {
                _listener?.Dispose();
                _listener = null;
                CloseAll(reset: false);
            }
            else
            {
                Listen(Port);
            }
        }
    }

    /// <summary>Closes every open connection now (reset: with TCP RST), leaving the proxy listening.</summary>
    public void CloseAll(bool reset)
    {
        foreach (var connection in _connections.Values)
            connection.Close(reset);
    }

    public async ValueTask DisposeAsync()
    {
        lock (_lock)
        {
            if (_disposed.IsCancellationRequested) return;
            _disposed.Cancel();
            _listener?.Dispose();
            _listener = null;
        }
        CloseAll(reset: false);
        await Task.WhenAll(_acceptLoop, _monitor).WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _disposed.Dispose();
    }

    public override string ToString() =>
        $"{Name} {Endpoint} → {UpstreamEndPoint}{(IsDown ? " DOWN" : "")} up[{UpstreamFaults}] down[{DownstreamFaults}]";

    internal ActiveFaults Faults(FaultDirection direction) =>
        direction == FaultDirection.Upstream ? Volatile.Read(ref _upstream) : Volatile.Read(ref _downstream);

    internal void Delivered(FaultDirection direction, int bytes)
    {
        if (direction == FaultDirection.Upstream) Interlocked.Add(ref _bytesUp, bytes);
        else Interlocked.Add(ref _bytesDown, bytes);
    }

    internal void Forget(ProxyConnection connection) => _connections.TryRemove(connection.Id, out _);

    private void Listen(int port)
    {
        var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            listener.Listen(512);
        }
        catch
        {
            listener.Dispose();
            throw;
        }
        Port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        _listener = listener;
        var previous = _acceptLoop;
        _acceptLoop = Task.Run(() => AcceptAsync(listener, previous));
    }

    private async Task AcceptAsync(Socket listener, Task previous)
    {
        await previous.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        // Ends when the listener is disposed (down or dispose): AcceptAsync then throws.
        while (!_disposed.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_disposed.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
            {
                return;
            }
            Interlocked.Increment(ref _accepted);
            var connection = new ProxyConnection(this, Interlocked.Increment(ref _nextId), client, _disposed.Token);
            _connections[connection.Id] = connection;
            if (IsDown || _disposed.IsCancellationRequested)
            {
                connection.Close(reset: false);
                continue;
            }
            _ = connection.RunAsync();
        }
    }

    private async Task MonitorAsync()
    {
        // Timed faults (timeout with a close, reset_peer) fire even on idle connections, as in Toxiproxy.
        using var timer = new PeriodicTimer(MonitorInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_disposed.Token).ConfigureAwait(false))
            {
                var now = Stopwatch.GetTimestamp();
                foreach (var connection in _connections.Values)
                {
                    connection.CheckTimedFaults(Volatile.Read(ref _upstream), now);
                    connection.CheckTimedFaults(Volatile.Read(ref _downstream), now);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // disposed
        }
    }
}

/// <summary>Faults and the moment they were set (a <see cref="Stopwatch"/> timestamp), which starts their timers.</summary>
internal sealed record ActiveFaults(LinkFaults Faults, long SetAt);
