using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Parley.Kit.Stack.Internal;

/// <summary>The readiness probe of a line-protocol server on 127.0.0.1 (Redis's PING, SMTP's greeting).</summary>
internal static class LoopbackProbe
{
    /// <summary>
    /// Connects, sends <paramref name="request"/> (none: the server speaks first), and returns the first reply read,
    /// or null when the server does not answer within <paramref name="timeout"/> or refuses the connection.
    /// </summary>
    public static async Task<string?> ExchangeAsync(int port, byte[]? request, TimeSpan timeout, CancellationToken ct)
    {
        using var attempt = CancellationTokenSource.CreateLinkedTokenSource(ct);
        attempt.CancelAfter(timeout);
        try
        {
            using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port), attempt.Token).ConfigureAwait(false);
            if (request is not null)
                await socket.SendAsync(request, attempt.Token).ConfigureAwait(false);
            var reply = new byte[256];
            var read = await socket.ReceiveAsync(reply, attempt.Token).ConfigureAwait(false);
            return Encoding.ASCII.GetString(reply, 0, read);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return null;
        }
    }
}
