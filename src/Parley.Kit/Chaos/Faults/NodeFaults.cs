using Parley.Kit.Chaos.Nodes;

namespace Parley.Kit.Chaos.Faults;

/// <summary>Kills a node (SIGKILL); removing the fault starts it again on the same port.</summary>
public sealed class NodeCrash(ParleyNode node) : IFault
{
    public string Description => $"node {node.Name} killed (SIGKILL), restarted on the same port";
    public Task InjectAsync(CancellationToken ct = default) => node.KillAsync(ct);
    public Task RemoveAsync(CancellationToken ct = default) => node.StartAsync(ct);
}

/// <summary>Freezes a node (SIGSTOP) with its sockets open; removing the fault lets it go on (SIGCONT).</summary>
public sealed class NodePause(ParleyNode node) : IFault
{
    public string Description => $"node {node.Name} paused (SIGSTOP), then continued (SIGCONT)";

    public Task InjectAsync(CancellationToken ct = default)
    {
        node.Pause();
        return Task.CompletedTask;
    }

    public Task RemoveAsync(CancellationToken ct = default)
    {
        node.Resume();
        return Task.CompletedTask;
    }
}
