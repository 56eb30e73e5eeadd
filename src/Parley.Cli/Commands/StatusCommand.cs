using System.CommandLine;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley status</c>: each local process with port, pid and state (observers with their role, nodes with the balancer's view
/// of them), and whether the server answers ready through the balancer.
/// </summary>
public static class StatusCommand
{
    /// <summary>The role shown for an observer process that did not answer <c>/health</c> (its log says why).</summary>
    public const string NoAnswer = "no answer";

    public static Command Create(GlobalOptions global)
    {
        var command = new Command("status", "Show what `parley up` started and whether it runs. Exit 0: all running, 3: some down, 1: nothing running.");
        command.SetHandler(global, RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, CliContext cli, CancellationToken ct)
    {
        var instance = LocalInstance.Read(cli.Home);
        var roles = (await Task.WhenAll(instance.Observers.Select(async o => (o.Name, Role: await ObserverProcesses.RoleAsync(o, ct) ?? NoAnswer))))
            .ToDictionary(r => r.Name, r => r.Role, StringComparer.Ordinal);
        foreach (var node in await BalancerViewAsync(instance, ct))
            roles[node.Name] = $"balancer: {node.Status}, {node.Sessions} connection(s)";
        var ready = instance.Url is { } url && await HealthProbe.IsReadyAsync(url, ct);
        var exitCode = !instance.AnyRunning ? ExitCodes.Failure
            : instance.AllRunning && instance.Url is not null && ready ? ExitCodes.Ok
            : ExitCodes.Degraded;

        if (cli.Json)
        {
            cli.WriteJson(new
            {
                root = cli.Home.Root,
                data = instance.Stack?.DataDirectory,
                state = exitCode switch { ExitCodes.Ok => "running", ExitCodes.Degraded => "degraded", _ => "stopped" },
                url = instance.Url,
                urls = instance.Server?.Urls ?? [],
                ready,
                components = instance.Components.Select(c => new { c.Name, c.Port, c.Pid, state = c.Running ? "running" : "down", role = roles.GetValueOrDefault(c.Name) }),
            });
            return exitCode;
        }

        if (instance.Components.Count == 0)
        {
            await cli.Out.WriteLineAsync($"Nothing running from {cli.Home.Root} (start it with `parley up`).");
            return exitCode;
        }
        TextTable.Write(cli.Out, ["COMPONENT", "PORT", "PID", "STATE"],
            instance.Components.Select(c => new[] { c.Name, $"{c.Port}", $"{c.Pid}", (c.Running ? "running" : "down") + (roles.GetValueOrDefault(c.Name) is { } role ? $" ({role})" : "") }));
        await cli.Out.WriteLineAsync();
        await cli.Out.WriteLineAsync(instance.Url is { } serverUrl
            ? $"Server: {serverUrl}  /health/ready: {(ready ? "200 ready" : "not ready")}"
            : "Server: not serving");
        if (instance.Stack is { } stack)
            await cli.Out.WriteLineAsync($"Data: {stack.DataDirectory}");
        return exitCode;
    }

    /// <summary>The nodes as the balancer's runtime API reports them; none when no balancer runs or it does not answer.</summary>
    private static async Task<IReadOnlyList<BalancedNodeState>> BalancerViewAsync(LocalInstance instance, CancellationToken ct)
    {
        if (instance.Stack?.Components.FirstOrDefault(c => c.Kind == StackComponentKind.Balancer) is not { Pid: not null } balancer)
            return [];
        try
        {
            return await BalancerRuntime.In(balancer.Directory).NodesAsync(ct);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or InvalidOperationException or OperationCanceledException && !ct.IsCancellationRequested)
        {
            return [];
        }
    }
}
