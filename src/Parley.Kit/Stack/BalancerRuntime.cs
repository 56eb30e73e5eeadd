using System.Globalization;
using System.Net.Sockets;
using System.Text;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Stack;

/// <summary>A Parley node behind the balancer: its server name (<c>node-1</c>) and its port on 127.0.0.1.</summary>
public sealed record BalancedNode(string Name, int Port)
{
    /// <summary><c>node-1</c>, <c>node-2</c>, ...: the name of the node at <paramref name="index"/> (from 0), at the balancer and in <c>parley status</c>.</summary>
    public static string NameOf(int index) => $"node-{index + 1}";
}

/// <summary>
/// One node as the balancer sees it: <paramref name="Status"/> is HAProxy's (<c>UP</c>, <c>DOWN</c>, <c>DRAIN</c>, <c>MAINT</c>,
/// or a transition such as <c>UP 1/2</c>); <paramref name="Sessions"/> the connections it holds through the balancer now
/// (open WebSockets among them); <paramref name="LastCheck"/> the last health check's result (e.g. <c>L7OK 200</c>, <c>L4CON</c>:
/// connection refused, <c>L7STS 503</c>: not ready).
/// </summary>
public sealed record BalancedNodeState(string Name, int Port, string Status, int Sessions, string LastCheck)
{
    /// <summary>Taking new requests: up (or on its way down but not there yet) and neither drained nor in maintenance.</summary>
    public bool Serving => Status.StartsWith("UP", StringComparison.Ordinal);

    /// <summary>Serving after a passed health check: HAProxy counts a node up before its first check, which may then fail.</summary>
    public bool Checked => Serving && LastCheck.StartsWith("L7OK", StringComparison.Ordinal);
}

/// <summary>
/// The balancer's runtime API (HAProxy's admin socket in its directory): the nodes' states, and drain / ready to take a node
/// out gracefully before a restart (it keeps its open connections, gets no new ones) and back after.
/// </summary>
public sealed class BalancerRuntime(string socketPath)
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The runtime API of the balancer whose component directory is <paramref name="balancerDirectory"/> (see <see cref="StackComponentInfo.Directory"/>).</summary>
    public static BalancerRuntime In(string balancerDirectory) => new(Path.Combine(balancerDirectory, "haproxy.sock"));

    /// <summary>Every node with its state, in configuration order.</summary>
    public async Task<IReadOnlyList<BalancedNodeState>> NodesAsync(CancellationToken ct = default)
    {
        // show stat <proxy id -1 = all> <type 4 = servers> <server id -1 = all>: CSV with a "# "-prefixed header.
        var lines = (await SendAsync("show stat -1 4 -1", ct).ConfigureAwait(false)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0 || !lines[0].StartsWith("# ", StringComparison.Ordinal))
            throw new InvalidOperationException($"Unexpected answer from the balancer: {string.Join('\n', lines.Take(3))}");
        var header = lines[0][2..].Split(',').Select((name, index) => (name, index)).ToDictionary(c => c.name, c => c.index, StringComparer.Ordinal);
        return lines.Skip(1).Select(line => line.Split(','))
            .Where(fields => fields[header["pxname"]] == HaproxyServer.Backend)
            .Select(fields => new BalancedNodeState(
                fields[header["svname"]],
                int.Parse(fields[header["addr"]].Split(':')[^1], CultureInfo.InvariantCulture),
                fields[header["status"]],
                int.Parse(fields[header["scur"]], CultureInfo.InvariantCulture),
                $"{fields[header["check_status"]]} {fields[header["check_code"]]}".Trim()))
            .ToList();
    }

    /// <summary>
    /// Waits (polling every 100 ms, at most <paramref name="bound"/>) until the nodes named (null: every node) are
    /// <see cref="BalancedNodeState.Checked"/>; throws <see cref="TimeoutException"/> with their states otherwise.
    /// </summary>
    public async Task WaitUntilCheckedAsync(TimeSpan bound, IReadOnlyCollection<string>? names = null, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            var nodes = (await NodesAsync(ct).ConfigureAwait(false)).Where(n => names is null || names.Contains(n.Name)).ToList();
            if (nodes.All(n => n.Checked))
                return;
            if (DateTime.UtcNow >= deadline)
                throw new TimeoutException($"Not every node passed the balancer's health check within {bound.TotalSeconds:0} s: {string.Join(", ", nodes)}");
            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>No new connections or requests go to <paramref name="node"/>; those it holds stay until they end (or it closes them).</summary>
    public Task DrainAsync(string node, CancellationToken ct = default) => SetStateAsync(node, "drain", ct);

    /// <summary>Undoes <see cref="DrainAsync"/>: the node takes requests again once its health checks pass.</summary>
    public Task ReadyAsync(string node, CancellationToken ct = default) => SetStateAsync(node, "ready", ct);

    private async Task SetStateAsync(string node, string state, CancellationToken ct)
    {
        if (node.Any(c => !char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_')))
            throw new ArgumentException($"'{node}' is not a node name.", nameof(node));
        var answer = (await SendAsync($"set server {HaproxyServer.Backend}/{node} state {state}", ct).ConfigureAwait(false)).Trim();
        if (answer.Length > 0)
            throw new InvalidOperationException($"The balancer refused 'state {state}' for {node}: {answer}");
    }

    // One command per connection (the socket's non-interactive mode): HAProxy answers and closes.
    private async Task<string> SendAsync(string command, CancellationToken ct)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(CommandTimeout);
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        await socket.ConnectAsync(new UnixDomainSocketEndPoint(socketPath), timeout.Token).ConfigureAwait(false);
        await socket.SendAsync(Encoding.ASCII.GetBytes(command + "\n"), timeout.Token).ConfigureAwait(false);
        var answer = new StringBuilder();
        var buffer = new byte[16 * 1024];
        int read;
        while ((read = await socket.ReceiveAsync(buffer, timeout.Token).ConfigureAwait(false)) > 0)
            answer.Append(Encoding.ASCII.GetString(buffer, 0, read));
        return answer.ToString();
    }
}
