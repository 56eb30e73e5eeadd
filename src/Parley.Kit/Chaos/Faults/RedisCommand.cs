using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Parley.Kit.Chaos.Faults;

/// <summary>
/// One Redis command over a fresh connection, for fault injection and probes (the kit does not depend on Parley.Redis,
/// whose behaviour under faults is what is being tested). Returns the reply's first line (<c>+OK</c>, <c>+PONG</c>, <c>-ERR …</c>).
/// </summary>
public static class RedisCommand
{
    public static async Task<string> SendAsync(string endpoint, IReadOnlyList<string> args, TimeSpan timeout, CancellationToken ct = default)
    {
        var separator = endpoint.LastIndexOf(':');
        var address = IPAddress.Parse(endpoint[..separator]);
        var port = int.Parse(endpoint[(separator + 1)..], System.Globalization.CultureInfo.InvariantCulture);
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(timeout);
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address, port, bounded.Token).ConfigureAwait(false);
        var request = new StringBuilder().Append('*').Append(args.Count).Append("\r\n");
        foreach (var arg in args)
            request.Append('$').Append(Encoding.UTF8.GetByteCount(arg)).Append("\r\n").Append(arg).Append("\r\n");
        await socket.SendAsync(Encoding.UTF8.GetBytes(request.ToString()), SocketFlags.None, bounded.Token).ConfigureAwait(false);
        var reply = new StringBuilder();
        var buffer = new byte[512];
        while (reply.Length < 4096)
        {
            var n = await socket.ReceiveAsync(buffer, SocketFlags.None, bounded.Token).ConfigureAwait(false);
            if (n == 0) break;
            reply.Append(Encoding.UTF8.GetString(buffer, 0, n));
            var text = reply.ToString();
            var end = text.IndexOf("\r\n", StringComparison.Ordinal);
            if (end >= 0) return text[..end];
        }
        throw new IOException($"Redis at {endpoint} closed the connection without a reply to {args[0]}.");
    }

    /// <summary>PING; true on <c>+PONG</c>, false on any error or timeout.</summary>
    public static async Task<bool> PingAsync(string endpoint, TimeSpan timeout)
    {
        try
        {
            return await SendAsync(endpoint, ["PING"], timeout).ConfigureAwait(false) == "+PONG";
        }
        catch (Exception e) when (e is SocketException or IOException or OperationCanceledException)
        {
            return false;
        }
    }
}
