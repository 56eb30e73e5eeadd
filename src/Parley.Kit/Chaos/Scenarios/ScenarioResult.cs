using Parley.Kit.Chaos.Invariants;

namespace Parley.Kit.Chaos.Scenarios;

/// <summary>One pass criterion: what SLO.md asks and what was measured.</summary>
public sealed record Criterion(string Name, string Target, string Measured, bool Passed);

/// <summary>A scenario's figures, criteria and invariant report, as written to its report.</summary>
public sealed record ScenarioResult
{
    public required string Scenario { get; init; }
    public required string Description { get; init; }
    public required string Fault { get; init; }
    public double DurationSeconds { get; init; }
    public int Requests { get; init; }
    public int RequestsDuringFault { get; init; }
    public double SuccessRateDuringFault { get; init; }
    /// <summary>200s plus 503s with Retry-After: answered as the API promises.</summary>
    public double AnsweredRateDuringFault { get; init; }
    public double WorstLatencyDuringFaultMs { get; init; }
    public double P95DuringFaultMs { get; init; }
    /// <summary>p95 of the same traffic in the last 2 s before the fault: the same-run reference for latency criteria.</summary>
    public double P95BeforeFaultMs { get; init; }
    /// <summary>Seconds from the fault's injection until the system noticed (breaker open, health degraded); null when not probed.</summary>
    public double? DetectionSeconds { get; init; }
    /// <summary>
    /// Seconds from the fault's removal until everything worked again (last failure, probes, deliveries caught up);
    /// null when the recovery probe never passed within <see cref="RecoveryBoundSeconds"/>: the run fails, whatever its criteria.
    /// </summary>
    public double? RecoverySeconds { get; init; }
    /// <summary>How long after the removal the recovery probe was given (<see cref="TrafficPlan.RecoveryBound"/>).</summary>
    public double RecoveryBoundSeconds { get; init; }
    /// <summary>The longest any listener was without a WebSocket (from a drop to its next connection); null without listeners.</summary>
    public double? LongestSocketGapSeconds { get; init; }
    public IReadOnlyDictionary<int, int> StatusCounts { get; init; } = new Dictionary<int, int>();
    public IReadOnlyList<Criterion> Criteria { get; init; } = [];
    public required InvariantReport Invariants { get; init; }
    public IReadOnlyList<string> Notes { get; init; } = [];

    public bool Recovered => RecoverySeconds is not null;

    public bool Passed => Recovered && Invariants.Passed && Criteria.All(c => c.Passed);

    /// <summary>The failure a never-recovered run reports beside its criteria.</summary>
    public string NeverRecoveredMessage => $"never recovered within {RecoveryBoundSeconds:0.#} s of the fault's removal (the recovery probe never passed)";

    public string Describe()
    {
        var lines = new List<string>
        {
            $"{Scenario}: {(Passed ? "PASS" : "FAIL")} — {Description}",
            $"  fault: {Fault}",
            $"  requests {Requests} ({RequestsDuringFault} during the fault), success {SuccessRateDuringFault:P2}, answered {AnsweredRateDuringFault:P2}, "
                + $"p95 {P95DuringFaultMs:0} ms (before the fault {P95BeforeFaultMs:0} ms), worst {WorstLatencyDuringFaultMs:0} ms, detection {(DetectionSeconds is { } d ? $"{d:0.0} s" : "n/a")}, recovery {(RecoverySeconds is { } s ? $"{s:0.0} s" : "never")}"
                + (LongestSocketGapSeconds is { } gap ? $", longest socket gap {gap:0.00} s" : ""),
            $"  statuses: {string.Join(' ', StatusCounts.OrderBy(kv => kv.Key).Select(kv => $"{(kv.Key == 0 ? "none" : kv.Key)}×{kv.Value}"))}",
            $"  invariants: {Invariants.Describe()}",
        };
        if (!Recovered) lines.Add($"  [FAIL] {NeverRecoveredMessage}");
        lines.AddRange(Criteria.Select(c => $"  [{(c.Passed ? "ok" : "FAIL")}] {c.Name}: {c.Measured} (target {c.Target})"));
        lines.AddRange(Notes.Select(n => $"  note: {n}"));
        return string.Join(Environment.NewLine, lines);
    }
}
