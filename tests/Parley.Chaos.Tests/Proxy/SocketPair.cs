using System.Net;
using System.Net.Sockets;
using Parley.Kit.Chaos.Proxy;

namespace Parley.Chaos.Tests.Proxy;

/// <summary>A loopback server, a proxy in front of it, and one connection through it: both ends as sockets the test drives.</summary>
public sealed class SocketPair : IAsyncDisposable
{
    private SocketPair(TcpListener listener, FaultProxy proxy, Socket client, Socket server)
    {
        Listener = listener;
        Proxy = proxy;
        Client = client;
        Server = server;
    }

    public TcpListener Listener { get; }

    public FaultProxy Proxy { get; }

    /// <summary>The client end (talks to the proxy).</summary>
    public Socket Client { get; private set; }

    /// <summary>The server's accepted end (talks to the proxy's upstream side).</summary>
    public Socket Server { get; private set; }

    public static async Task<SocketPair> StartAsync(Action<FaultProxy>? configure = null)
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var proxy = FaultProxy.Start("test", (IPEndPoint)listener.LocalEndpoint);
        configure?.Invoke(proxy);
        var (client, server) = await ConnectAsync(listener, proxy);
        return new SocketPair(listener, proxy, client, server);
    }

    /// <summary>Opens another connection through the proxy and replaces <see cref="Client"/>/<see cref="Server"/>.</summary>
    public async Task ReconnectAsync()
    {
        Client.Dispose();
        Server.Dispose();
        (Client, Server) = await ConnectAsync(Listener, Proxy);
    }

    private static async Task<(Socket Client, Socket Server)> ConnectAsync(TcpListener listener, FaultProxy proxy)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await client.ConnectAsync(IPAddress.Loopback, proxy.Port, timeout.Token);
        var server = await listener.AcceptSocketAsync(timeout.Token);
        server.NoDelay = true;
        return (client, server);
    }

    public static async Task SendAllAsync(Socket socket, byte[] data)
    {
        var sent = 0;
        while (sent < data.Length)
            sent += await socket.SendAsync(data.AsMemory(sent), SocketFlags.None);
    }

    /// <summary>Reads until <paramref name="count"/> bytes, end of stream, or <paramref name="within"/>; returns what arrived and how many reads it took.</summary>
    public static async Task<(byte[] Data, int Reads, bool Ended)> ReceiveAsync(Socket socket, int count, TimeSpan within)
    {
        var data = new MemoryStream();
        var buffer = new byte[64 * 1024];
        var reads = 0;
        using var timeout = new CancellationTokenSource(within);
        try
        {
            while (data.Length < count)
            {
                var n = await socket.ReceiveAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, count - data.Length)), SocketFlags.None, timeout.Token);
                if (n == 0) return (data.ToArray(), reads, true);
                reads++;
                data.Write(buffer, 0, n);
            }
        }
        catch (OperationCanceledException)
        {
            // bounded: return what arrived
        }
        return (data.ToArray(), reads, false);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        Server.Dispose();
        await Proxy.DisposeAsync();
        Listener.Stop();
        Listener.Dispose();
    }
}
