using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Npgsql;
using Parley.Kit.Stack;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Tests.Stack;

/// <summary>Talks to the stack's servers the way a client would, with bounded waits.</summary>
internal static class StackProbes
{
    public static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static async Task<object?> ScalarAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString + ";Pooling=false;Timeout=10;Command Timeout=10");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    public static Task<string> PingRedisAsync(string endpoint) => RedisAsync(endpoint, "PING");

    /// <summary>Sends one inline command (e.g. <c>SET k v</c>) and returns the raw reply without its final CRLF.</summary>
    public static async Task<string> RedisAsync(string endpoint, string command)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(IPEndPoint.Parse(endpoint), timeout.Token);
        await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\r\n"), timeout.Token);
        var reply = new byte[256];
        var read = await socket.ReceiveAsync(reply, timeout.Token);
        return Encoding.ASCII.GetString(reply, 0, read).TrimEnd();
    }

    /// <summary>Runs psql (unaligned, tuples only) as the parley user; for PgBouncer's admin console.</summary>
    public static async Task<string> PsqlAsync(int port, string database, string sql)
    {
        var psql = Directory.GetFiles("/usr/lib/postgresql", "psql", SearchOption.AllDirectories).FirstOrDefault()
            ?? throw new InvalidOperationException("psql not found: apt-get install -y postgresql-client-15");
        var info = new ProcessStartInfo(psql) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in new[] { "-h", "127.0.0.1", "-p", port.ToString(CultureInfo.InvariantCulture), "-U", "parley", "-d", database, "-At", "-c", sql })
            info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var output = await process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = await process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        Assert.True(process.ExitCode == 0, $"psql failed: {error}");
        return output;
    }

    public static async Task<bool> IsListeningAsync(int port)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, port));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> after <see cref="Patience"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {Patience.TotalSeconds:0}s waiting until {what}.");
            await Task.Delay(100);
        }
    }

    /// <summary>Asserts that no process of <paramref name="state"/> is alive and no port listens, allowing <see cref="Patience"/> for teardown.</summary>
    public static async Task AssertGoneAsync(StackState state)
    {
        var pids = state.Components.Select(c => c.Pid).OfType<int>().Concat(state.WatchdogPid is { } w ? [w] : []).ToList();
        Assert.NotEmpty(pids);
        await EventuallyAsync(() => Task.FromResult(!pids.Any(ProcessTree.IsAlive)), $"processes {string.Join(", ", pids)} are gone");
        foreach (var component in state.Components)
            Assert.False(await IsListeningAsync(component.Port), $"{component.Name} still listens on {component.Port}");
        Assert.False(Directory.Exists(state.DataDirectory), $"{state.DataDirectory} was not deleted");
    }
}
