using Parley.Kit.Stack;

namespace Parley.Cli.Local;

/// <summary>One process of a local Parley as <c>parley status</c> reports it (observers: <c>observer-N</c>).</summary>
public sealed record ComponentStatus(string Name, int? Port, int? Pid, bool Running);

/// <summary>
/// What runs from a <see cref="ParleyHome"/>, read from its files and checked against the live processes:
/// the stack's components (stack.json), its watchdog, the <c>up</c> process that serves the API (up.pid, server.json)
/// and the observer processes it started (observers.json).
/// </summary>
public sealed class LocalInstance
{
    private LocalInstance(StackState? stack, int? upPid, ServerInfo? server, IReadOnlyList<ObserverProcess> observers)
    {
        Stack = stack;
        Observers = observers;
        UpPid = upPid;
        Server = server;
        var components = new List<ComponentStatus>();
        if (stack is not null)
        {
            components.AddRange(stack.Components.Select(c => new ComponentStatus(c.Name, c.Port, c.Pid, c.Pid is { } pid && Processes.IsAlive(pid))));
            if (stack.WatchdogPid is { } watchdog)
                components.Add(new ComponentStatus("watchdog", null, watchdog, Processes.IsAlive(watchdog)));
        }
        if (upPid is { } up)
        {
            components.Add(new ComponentStatus("server", ServerPort, up, Processes.IsAlive(up)));
            // The nodes run in the up process, each on its own port behind the balancer.
            components.AddRange((server?.Nodes ?? []).Select((url, i) => new ComponentStatus(BalancedNode.NameOf(i), new Uri(url).Port, up, Processes.IsAlive(up))));
        }
        components.AddRange(observers.Select(o => new ComponentStatus(o.Name, new Uri(o.Url).Port, o.Pid, Processes.IsAlive(o.Pid))));
        Components = components;
    }

    public StackState? Stack { get; }

    /// <summary>The <c>parley up</c> process, from up.pid.</summary>
    public int? UpPid { get; }

    public ServerInfo? Server { get; }

    /// <summary>The observer processes <c>up --observer</c> started.</summary>
    public IReadOnlyList<ObserverProcess> Observers { get; }

    public string? Url => Server?.Urls.FirstOrDefault();

    public IReadOnlyList<ComponentStatus> Components { get; }

    public bool AnyRunning => Components.Any(c => c.Running);

    public bool AllRunning => Components.Count > 0 && Components.All(c => c.Running);

    /// <summary>Pids of the stack's components and watchdog that still run.</summary>
    public IEnumerable<int> LiveStackPids => Components.Where(c => c.Running && c.Pid != UpPid && Observers.All(o => o.Name != c.Name)).Select(c => c.Pid!.Value);

    private int? ServerPort => Url is { } url && Uri.TryCreate(url, UriKind.Absolute, out var uri) ? uri.Port : null;

    public static LocalInstance Read(ParleyHome home) => new(ReadStack(home), home.ReadUpPid(), ServerInfo.Read(home), ObserverProcesses.Read(home));

    private static StackState? ReadStack(ParleyHome home)
    {
        try
        {
            return LocalStack.ReadState(home.Root);
        }
        catch (System.Text.Json.JsonException)
        {
            // Half-written while the stack changes; the next read will do.
            return null;
        }
    }
}
