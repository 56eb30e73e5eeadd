using System.Net;
using System.Net.Sockets;

namespace Parley.Kit.Stack.Internal;

internal static class LoopbackPorts
{
    /// <summary>A port the kernel just handed out on 127.0.0.1. Another process may grab it before we bind; callers retry.</summary>
    public static int Pick()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return ((IPEndPoint)listener.LocalEndPoint!).Port;
    }

    /// <summary>True when nothing listens on 127.0.0.1:<paramref name="port"/> right now (a bind succeeds).</summary>
    public static bool IsFree(int port)
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        // As the servers do: connections of a previous run in TIME_WAIT do not make the port taken.
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
