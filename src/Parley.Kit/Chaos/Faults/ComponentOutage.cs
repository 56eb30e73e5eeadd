using Parley.Kit.Stack;

namespace Parley.Kit.Chaos.Faults;

/// <summary>Stops (cleanly, or with SIGKILL) one server of the stack; removing the fault starts it again on the same port.</summary>
public sealed class ComponentOutage(StackComponent component, bool kill) : IFault
{
    public string Description => $"{component.Name} {(kill ? "killed (SIGKILL)" : "stopped")}";

    public Task InjectAsync(CancellationToken ct = default) => kill ? component.KillAsync(ct) : component.StopAsync(ct);

    public Task RemoveAsync(CancellationToken ct = default) => component.StartAsync(ct);
}
