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
}
