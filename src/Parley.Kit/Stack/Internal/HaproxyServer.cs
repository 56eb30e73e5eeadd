using System.Globalization;
using System.Text;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// Debian's HAProxy in front of Parley nodes on 127.0.0.1: HTTP mode, least connections (WebSockets are long-lived),
/// health checks on <c>/health/ready</c>, upgraded WebSockets kept as tunnels, and a runtime API socket
/// (<see cref="BalancerRuntime"/>) to drain a node. Daemonised; as root it runs as the postgres user like PgBouncer.
/// </summary>
internal sealed class HaproxyServer(string dataDirectory, StackEnvironment env, string haproxy, IReadOnlyList<BalancedNode> nodes)
    : ComponentDriver(StackComponentKind.Balancer, dataDirectory, env)
{
    /// <summary>The backend the nodes are servers of, as the runtime API names it (<c>nodes/node-1</c>).</summary>
    public const string Backend = "nodes";

    /// <summary>Answered by HAProxy itself (200 while it runs), not passed to a node: the balancer's own liveness.</summary>
    public const string MonitorPath = "/health/balancer";

    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    protected override string PidFile => Path.Combine(Directory, "haproxy.pid");

    protected override string ProcessName => "haproxy";

    private string ConfigFile => Path.Combine(Directory, "haproxy.cfg");

    public string SocketPath => Path.Combine(Directory, "haproxy.sock");

    protected override Task PrepareAsync(CancellationToken ct) => Env.CreateDirectoryForPostgresAsync(Directory, ct);

    protected override async Task LaunchAsync(CancellationToken ct)
    {
        // HAProxy's own answers when no node can: 503 + Retry-After in problem+json, as the nodes answer a dependency outage.
        // A node that dies mid-request would make it 502, and one that does not answer in time 504: to a client both are the
        // same outage, so the files for them say 503 too (the API has no 502 or 504).
        foreach (var code in new[] { 502, 503, 504 })
            WriteConfig(ErrorFile(code), Unavailable(code));
        WriteConfig(ConfigFile, Config());
        DeleteStalePidFile();
        var result = await Env.RunAsPostgresAsync(haproxy, ["-f", ConfigFile], Directory, StackEnvironment.CommandTimeout, ct).ConfigureAwait(false);
        if (result.ExitCode != 0)
            throw new InvalidOperationException($"haproxy exited with {result.ExitCode}: {result.Output.Trim()}");
    }

    protected override async Task<bool> ProbeAsync(CancellationToken ct) =>
        (await LoopbackProbe.ExchangeAsync(Port, Encoding.ASCII.GetBytes($"GET {MonitorPath} HTTP/1.0\r\n\r\n"), ProbeTimeout, ct).ConfigureAwait(false))
            ?.Split('\n')[0].Contains(" 200 ", StringComparison.Ordinal) == true
        && File.Exists(SocketPath);

    private string ErrorFile(int code) => Path.Combine(Directory, $"{code.ToString(CultureInfo.InvariantCulture)}.http");

    private static string Unavailable(int code) =>
        "HTTP/1.1 503 Service Unavailable\r\n"
        + "Content-Type: application/problem+json\r\n"
        + "Retry-After: 1\r\n"
        + "Cache-Control: no-store\r\n"
        + "Connection: close\r\n"
        + "\r\n"
        + $$"""{"type":"about:blank","title":"Service unavailable","status":503,"detail":"No Parley node could answer ({{code.ToString(CultureInfo.InvariantCulture)}} at the balancer); retry shortly."}""";

    private string Config()
    {
        var servers = string.Join('\n', nodes.Select(node => $"    server {node.Name} 127.0.0.1:{node.Port.ToString(CultureInfo.InvariantCulture)}"));
        return $"""
            global
                daemon
                pidfile {PidFile}
                stats socket {SocketPath} mode 600 level admin
                maxconn 4096

            defaults
                mode http
                timeout connect 2s
                timeout client 60s
                timeout server 60s
                timeout http-request 10s
                timeout queue 5s
                # An upgraded WebSocket is a tunnel: the server pings it every 15 s, so an hour idle means a dead peer.
                timeout tunnel 1h
                timeout client-fin 5s
                # A refused connection (a node just killed, before its checks fail) is retried at once on another node.
                retries 3
                option redispatch 1
                errorfile 502 {ErrorFile(502)}
                errorfile 503 {ErrorFile(503)}
                errorfile 504 {ErrorFile(504)}

            frontend public
                bind 127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}
                monitor-uri {MonitorPath}
                option forwardfor
                default_backend {Backend}

            backend {Backend}
                balance leastconn
                option httpchk GET /health/ready
                http-check expect status 200
                # A GET that found its node dead (connection closed before any answer) is replayed on another node; any other
                # request is not (a send without clientMessageId could be stored twice): its client gets the 503 above.
                retry-on conn-failure empty-response
                http-request disable-l7-retry unless METH_GET
                default-server check inter 1s fastinter 250ms downinter 1s fall 2 rise 2
            {servers}

            """;
    }
}
