using System.Globalization;

namespace Parley.Kit.Chaos.Observer;

/// <summary>
/// What an observer drill measured. Times are seconds from the fault's injection (<see cref="FailoverSeconds"/>,
/// <see cref="DetectionSeconds"/>, <see cref="OldLeaderStoodDownSeconds"/>) or from its removal (<see cref="RecoverySeconds"/>);
/// null when the awaited event never came within the plan's bound.
/// </summary>
public sealed record ObserverDrillResult
{
    public required ObserverDrillPlan Plan { get; init; }
    public required string Fault { get; init; }

    /// <summary>Instance, pid and term of the leader before the fault, and of the leader at the end.</summary>
    public required string LeaderBefore { get; init; }
    public long TermBefore { get; init; }
    public string? LeaderAfter { get; init; }
    public long TermAfter { get; init; }

    /// <summary>Until another process led and read the slot (leader faults), or until one did again (database outage).</summary>
    public double? FailoverSeconds { get; init; }

    /// <summary>Until the fault showed: no process reading the slot (database outage), the slow endpoint's breaker open.</summary>
    public double? DetectionSeconds { get; init; }

    /// <summary>Until the cut-off leader itself reported standby (partition: it stops before its lease ends).</summary>
    public double? OldLeaderStoodDownSeconds { get; init; }

    /// <summary>The cut-off leader reported standby before any other process reported leading (no overlap seen from outside).</summary>
    public bool? StoodDownBeforeTakeover { get; init; }

    /// <summary>From the removal until the faulted process was back as a healthy standby (or the group read again).</summary>
    public double? RecoverySeconds { get; init; }

    /// <summary>Queue rows written under an older term after the newest term was taken (fencing: must be 0).</summary>
    public long DeposedWrites { get; init; }

    /// <summary>The deposed leader logged that its lease was gone or lapsing (it noticed, and stood by).</summary>
    public bool DeposedNoticed { get; init; }

    /// <summary><c>observer_failovers_total</c> and <c>observer_leader</c> on the leader at the end.</summary>
    public double FailoversMetric { get; init; }
    public double LeaderMetric { get; init; }

    /// <summary>Processes answering <c>/health</c> during the fault, of all.</summary>
    public string HealthyDuringFault { get; init; } = "";

    public int Inserted { get; init; }
    public int Delivered { get; init; }

    /// <summary>Rows whose webhook never arrived.</summary>
    public IReadOnlyList<long> Lost { get; init; } = [];

    /// <summary><c>webhook-id</c>s accepted more than once.</summary>
    public IReadOnlyList<string> Duplicated { get; init; } = [];

    /// <summary>Of <see cref="Duplicated"/>, those whose earlier attempt was lost with a killed process (at-least-once across a crash).</summary>
    public int DuplicatedAfterLostAttempt { get; init; }

    /// <summary>Deliveries later than <see cref="ObserverDrillPlan.LateAfter"/> after their insert.</summary>
    public int Late { get; init; }
    public double P50LatencyMs { get; init; }
    public double P95LatencyMs { get; init; }
    public double P99LatencyMs { get; init; }
    public double MaxLatencyMs { get; init; }
    public int BadSignatures { get; init; }

    /// <summary>Attempts recorded as lost (their process died holding the claim) and reclaimed.</summary>
    public int LostAttempts { get; init; }

    /// <summary>Actions the killed process was running when it died (worker kill).</summary>
    public int RunningAtKill { get; init; }

    /// <summary>Slow-endpoint drills: attempts that reached the slow endpoint, and its actions done by the end.</summary>
    public int SlowCalls { get; init; }
    public int SlowDone { get; init; }

    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Duplicates not explained by a lost attempt of a killed process.</summary>
    public int UnexplainedDuplicates => Duplicated.Count - DuplicatedAfterLostAttempt;

    /// <summary>
    /// The fault can take an attempt in flight with it: a killed process, and a paused or cut-off one whose claim lapses
    /// before it can record what it sent (seen at load average 86: a paused leader's webhook sent, then sent again by the
    /// process that reclaimed it, recorded lost). Only those may repeat (at-least-once); the woken process records nothing.
    /// </summary>
    public bool LosesAttempts => Plan.Fault is ObserverFault.LeaderKill or ObserverFault.WorkerKill or ObserverFault.LeaderPause or ObserverFault.LeaderPartition;

    public string Describe()
    {
        static string S(double? v) => v is { } x ? x.ToString("0.00", CultureInfo.InvariantCulture) + " s" : "never";
        var lines = new List<string>
        {
            $"fault: {Fault}",
            $"leader {LeaderBefore} (term {TermBefore}) → {LeaderAfter ?? "none"} (term {TermAfter}); failover {S(FailoverSeconds)} (lease-based bound {Plan.TakeoverBound.TotalSeconds:0.#} s), detection {S(DetectionSeconds)}, "
                + $"old leader stood by {S(OldLeaderStoodDownSeconds)}{(StoodDownBeforeTakeover is { } b ? b ? " (before the takeover)" : " (AFTER the takeover)" : "")}, recovery {S(RecoverySeconds)}",
            $"webhooks: {Inserted} rows, {Delivered} accepted, {Lost.Count} lost, {Duplicated.Count} duplicated ({DuplicatedAfterLostAttempt} after a lost attempt), {Late} late (> {Plan.LateAfter.TotalSeconds:0} s), "
                + $"latency p50 {P50LatencyMs:0} ms p99 {P99LatencyMs:0} ms max {MaxLatencyMs:0} ms, {BadSignatures} bad signatures",
            $"fencing: {DeposedWrites} rows written under a deposed term after the takeover; deposed leader noticed: {DeposedNoticed}; lost attempts reclaimed {LostAttempts}; "
                + $"metrics at the end: observer_leader {LeaderMetric}, observer_failovers_total {FailoversMetric}; healthy during the fault {HealthyDuringFault}",
        };
        if (Plan.Fault == ObserverFault.SlowEndpoint) lines.Add($"slow endpoint: {SlowCalls} attempts reached it, {SlowDone} of its actions done by the end");
        if (Plan.Fault == ObserverFault.WorkerKill) lines.Add($"worker kill: {RunningAtKill} actions running in the killed process");
        if (Lost.Count > 0) lines.Add($"lost rows: {string.Join(", ", Lost.Take(10))}{(Lost.Count > 10 ? ", …" : "")}");
        if (Duplicated.Count > 0) lines.Add($"duplicated: {string.Join(", ", Duplicated.Take(10))}{(Duplicated.Count > 10 ? ", …" : "")}");
        lines.AddRange(Notes.Select(n => $"note: {n}"));
        return string.Join(Environment.NewLine, lines);
    }
}
