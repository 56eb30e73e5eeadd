using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Stack;

/// <summary>
/// <see cref="StackOptions.Supervise"/>: a component whose process exited by itself (a PostgreSQL crash restart that failed on a
/// full disk, an OOM kill) is started again, as systemd would do for a real deployment. It works from stack.json, as every
/// other process does, and only under the operations lock: a component stack.json still records as Running whose pid is gone.
/// </summary>
public sealed partial class LocalStack
{
    private static readonly TimeSpan SupervisionInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan LongestRetryWait = TimeSpan.FromSeconds(30);

    private CancellationTokenSource? _supervisionStop;
    private Task? _supervision;

    private void StartSupervision()
    {
        _supervisionStop = new CancellationTokenSource();
        var token = _supervisionStop.Token;
        _supervision = Task.Run(() => SuperviseAsync(_layout.RootDirectory, _env.Progress, token), token);
        _env.Report("supervisor: a component that exits by itself is started again");
    }

    private async Task StopSupervisionAsync()
    {
        if (_supervisionStop is null || _supervision is null)
            return;
        await _supervisionStop.CancelAsync().ConfigureAwait(false);
        try
        {
            await _supervision.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // stopped as asked
        }
        _supervisionStop.Dispose();
    }

    private static async Task SuperviseAsync(string root, IProgress<string>? progress, CancellationToken ct)
    {
        // Per component: when the next start may be tried, and the wait after that one fails (1 s doubling to 30 s).
        var retries = new Dictionary<StackComponentKind, (DateTime Next, TimeSpan Wait)>();
        using var timer = new PeriodicTimer(SupervisionInterval);
        while (await timer.WaitForNextTickAsync(ct).ConfigureAwait(false))
        {
            if (Exited(ReadStateOrNull(root)).Count == 0)
                continue;
            using var held = StackOperationLock.TryAcquire(root);
            // Another operation is under way, or it just ended and rewrote stack.json: look again under the lock.
            if (held is null || ReadStateOrNull(root) is not { } state || Exited(state) is not { Count: > 0 } exited)
                continue;
            var stack = Reattach(state, progress);
            foreach (var component in stack.Components.Where(c => exited.Contains(c.Kind)))
            {
                var (next, wait) = retries.GetValueOrDefault(component.Kind, (DateTime.MinValue, SupervisionInterval));
                if (DateTime.UtcNow < next)
                    continue;
                stack._env.Report($"supervisor: {component.Name} exited by itself; starting it again");
                try
                {
                    await component.StartAsync(ct).ConfigureAwait(false);
                    retries.Remove(component.Kind);
                }
                catch (Exception e) when (e is StackStartException or InvalidOperationException or IOException or TimeoutException)
                {
                    stack._env.Report($"supervisor: {component.Name} did not start ({e.Message}); next try in {wait.TotalSeconds:0} s");
                    retries[component.Kind] = (DateTime.UtcNow + wait, TimeSpan.FromTicks(Math.Min(wait.Ticks * 2, LongestRetryWait.Ticks)));
                }
            }
        }
    }

    // Components recorded as Running whose process is gone; the balancer is left out (only its owner knows its nodes).
    private static HashSet<StackComponentKind> Exited(StackState? state) =>
        state is null ? []
        : state.Components
            .Where(c => c.Kind != StackComponentKind.Balancer && c.State == StackComponentState.Running && !(c.Pid is { } pid && ProcessTree.IsAlive(pid)))
            .Select(c => c.Kind)
            .ToHashSet();

    // stack.json is replaced by a rename, so a read never sees half of it; it is gone once the stack stopped.
    private static StackState? ReadStateOrNull(string root)
    {
        try
        {
            return ReadState(root);
        }
        catch (Exception e) when (e is IOException or System.Text.Json.JsonException)
        {
            return null;
        }
    }
}
