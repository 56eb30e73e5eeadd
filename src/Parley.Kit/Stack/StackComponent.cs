using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Stack;

/// <summary>
/// One server of a <see cref="LocalStack"/>. Stop, kill and restart it to rehearse failures;
/// a restart keeps its port and data.
/// </summary>
public sealed class StackComponent
{
    private readonly ComponentDriver _driver;
    private readonly Action _changed;
    private readonly SemaphoreSlim _gate = new(1, 1);

    internal StackComponent(ComponentDriver driver, Action changed)
    {
        _driver = driver;
        _changed = changed;
    }

    public StackComponentKind Kind => _driver.Kind;

    /// <summary><c>primary</c>, <c>replica</c>, <c>pgbouncer</c> or <c>redis</c>.</summary>
    public string Name => _driver.Name;

    /// <summary>The TCP port on 127.0.0.1; the same across restarts.</summary>
    public int Port => _driver.Port;

    /// <summary>The server's process id while it runs.</summary>
    public int? Pid { get; private set; }

    /// <summary>Whether the process last started is still there: a server can exit by itself (a PostgreSQL crash restart that fails).</summary>
    public bool IsAlive => Pid is { } pid && ProcessTree.IsAlive(pid);

    /// <summary>The server's own log (stdout and stderr, or PostgreSQL's <c>pg_ctl -l</c> file), for a failure's message.</summary>
    public string LogFile => _driver.LogFile;

    public StackComponentState State { get; private set; } = StackComponentState.Stopped;

    /// <summary>Stops the server cleanly (PostgreSQL: fast shutdown; others: SIGTERM), killing it if it does not stop in time.</summary>
    public Task StopAsync(CancellationToken ct = default) => ChangeAsync(_driver.StopAsync, StackComponentState.Stopped, ct);

    /// <summary>Kills the server and its children with SIGKILL, as a crash would.</summary>
    public Task KillAsync(CancellationToken ct = default) => ChangeAsync(_driver.KillAsync, StackComponentState.Stopped, ct);

    /// <summary>Starts the server again on the same port and data and waits until it is ready.</summary>
    public Task StartAsync(CancellationToken ct = default) => ChangeAsync(_driver.StartAsync, StackComponentState.Running, ct);

    internal Task CreateAsync(int? preferredPort, CancellationToken ct) =>
        ChangeAsync(token => _driver.CreateAsync(preferredPort, token), StackComponentState.Running, ct);

    /// <summary>Runs a driver operation that leaves the server in <paramref name="target"/> (a promotion, a re-seed), under the component's gate.</summary>
    internal Task ChangeAsync(Func<ComponentDriver, CancellationToken, Task> action, StackComponentState target, CancellationToken ct) =>
        ChangeCoreAsync(token => action(_driver, token), target, force: true, ct);

    /// <summary>Takes the state and pid another process recorded in stack.json (a pid no longer alive counts as stopped).</summary>
    internal void Restore(StackComponentInfo info)
    {
        var alive = info.Pid is { } pid && ProcessTree.IsAlive(pid);
        State = alive ? info.State : StackComponentState.Stopped;
        Pid = alive ? info.Pid : null;
    }

    internal StackComponentInfo Describe() => new(Kind, Name, Port, Pid, State, _driver.Directory);

    private Task ChangeAsync(Func<CancellationToken, Task> action, StackComponentState target, CancellationToken ct) =>
        ChangeCoreAsync(action, target, force: false, ct);

    private async Task ChangeCoreAsync(Func<CancellationToken, Task> action, StackComponentState target, bool force, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            // A server that exited by itself is still Running here: it is started again.
            if (!force && target == StackComponentState.Running && State == StackComponentState.Running && IsAlive)
                return;
            await action(ct).ConfigureAwait(false);
            State = target;
            Pid = target == StackComponentState.Running ? _driver.ReadPid() : null;
        }
        finally
        {
            _gate.Release();
            _changed();
        }
    }
}
