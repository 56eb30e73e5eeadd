using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Stack;

namespace Parley.Kit.Chaos.Faults;

/// <summary>
/// The primary killed with SIGKILL, then what an operator (or Patroni) does after <paramref name="promoteAfter"/>: the replica promoted
/// and the dead primary cloned again as its replica (<see cref="LocalStack.FailoverAsync"/>), in the background while traffic runs.
/// Removing the fault waits for that failover; it is not undone (<see cref="Scenarios.ChaosEnvironment.HealAsync"/> swaps the roles back).
/// </summary>
public sealed class PrimaryLoss(LocalStack stack, ChaosLedger ledger, TimeSpan promoteAfter, List<string> notes) : IFault
{
    private Task? _failover;

    public string Description =>
        $"primary killed (SIGKILL); the replica promoted {promoteAfter.TotalSeconds:0.#} s later, the old primary re-seeded as its replica";

    /// <summary>Ledger time of the kill.</summary>
    public double? KilledAtMs { get; private set; }

    /// <summary>Ledger time the promoted replica accepted writes.</summary>
    public double? PromotedAtMs { get; private set; }

    /// <summary>The failover's own account, once it finished.</summary>
    public FailoverReport? Report { get; private set; }

    public async Task InjectAsync(CancellationToken ct = default)
    {
        KilledAtMs = ledger.NowMs;
        await stack.Primary.KillAsync(ct).ConfigureAwait(false);
        _failover = FailOverAsync(ct);
    }

    public async Task RemoveAsync(CancellationToken ct = default)
    {
        if (_failover is not { } failover)
            return;
        _failover = null;
        await failover.WaitAsync(ct).ConfigureAwait(false);
        if (Report is { } report)
        {
            notes.Add($"failover: promoted in {report.Promoted.TotalSeconds:0.00} s, the old primary re-seeded and streaming after {report.Total.TotalSeconds:0.0} s; " +
                $"primary now :{report.PrimaryPort}, replica :{report.ReplicaPort}");
        }
        notes.Add(FollowSeconds() is { } follow ? $"nodes wrote to the new primary {follow:0.00} s after its promotion" : "no 201 since the kill yet");
    }

    /// <summary>
    /// From the promotion to the first 201 of a send started after the kill: how long the nodes took to write to the new primary
    /// (0 when one waited through the promotion and was answered at once). Null before that happened.
    /// </summary>
    public double? FollowSeconds()
    {
        if (KilledAtMs is not { } killed || PromotedAtMs is not { } promoted)
            return null;
        var first = ledger.Sent.Where(m => m.StartMs > killed).Select(m => m.EndMs).DefaultIfEmpty(double.NaN).Min();
        return double.IsNaN(first) ? null : Math.Round(Math.Max(0, first - promoted) / 1000, 2);
    }

    private async Task FailOverAsync(CancellationToken ct)
    {
        await Task.Delay(promoteAfter, ct).ConfigureAwait(false);
        var started = ledger.NowMs;
        Report = await stack.FailoverAsync(ct).ConfigureAwait(false);
        PromotedAtMs = started + Report.Promoted.TotalMilliseconds;
    }
}
