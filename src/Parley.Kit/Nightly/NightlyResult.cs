using System.Globalization;
using System.Text.Json;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Reports;

namespace Parley.Kit.Nightly;

/// <summary>One test of the night: its seed 002 number, what it checks, and its verdict from its criteria.</summary>
public sealed record NightlyTestResult
{
    public required int Number { get; init; }
    public required string Name { get; init; }
    public required string Title { get; init; }
    /// <summary>The seed's acceptance criteria, as written there.</summary>
    public required string SeedCriteria { get; init; }
    public double PlannedSeconds { get; init; }
    public double Seconds { get; init; }
    public IReadOnlyList<Criterion> Criteria { get; init; } = [];
    /// <summary>Key figures (p95 ms, req/s, memory growth ...) the report charts across nights.</summary>
    public IReadOnlyDictionary<string, double> Figures { get; init; } = new Dictionary<string, double>();
    public IReadOnlyList<string> Notes { get; init; } = [];
    /// <summary>Why the test could not run to its end (an exception); it then fails.</summary>
    public string? Error { get; init; }
    /// <summary>The load kit's own report of the run, relative to the nightly report (load tests only).</summary>
    public string? RunReport { get; init; }

    /// <summary>Passes when it ran, judged at least one criterion, and every criterion passed: a test with nothing judged fails.</summary>
    public bool Passed => Error is null && Criteria.Count > 0 && Criteria.All(c => c.Passed);

    public string Verdict => Passed ? "pass" : "fail";
}

/// <summary>A whole night: written as summary.json beside report.html, and kept in the nightly history for trends.</summary>
public sealed record NightlySummary
{
    public int Version { get; init; } = 1;
    public required DateTimeOffset StartedAt { get; init; }
    public required DateTimeOffset FinishedAt { get; init; }
    /// <summary>1 for the full durations; below 1 the long tests ran shortened (a scaled run is not a night of the record).</summary>
    public required double Scale { get; init; }
    public double? BudgetMinutes { get; init; }
    public required double PlannedMinutes { get; init; }
    public required IReadOnlyList<NightlyTestResult> Tests { get; init; }
    /// <summary>Each load test's run compared with the last 7 runs of its scenario under the same load (<c>parley baseline</c>).</summary>
    public IReadOnlyList<RunComparison> Baseline { get; init; } = [];
    public required string Machine { get; init; }

    public bool Passed => Tests.Count > 0 && Tests.All(t => t.Passed);

    public string Verdict => Passed ? "pass" : "fail";

    public string ToJson() => JsonSerializer.Serialize(this, RunSummary.JsonOptions);

    public static NightlySummary FromJson(string json) =>
        JsonSerializer.Deserialize<NightlySummary>(json, RunSummary.JsonOptions) ?? throw new JsonException("empty nightly summary");
}

/// <summary>Turns measured figures into criteria: pure functions, so they are tested without a stack.</summary>
public static class NightlyJudge
{
    private static string F(double value, string format = "0.##") => value.ToString(format, CultureInfo.InvariantCulture);

    /// <summary>A load run's gates as criteria; a gate with no data fails (it asserted nothing).</summary>
    public static IEnumerable<Criterion> Gates(RunSummary run) =>
        run.Gates.Select(g => new Criterion(g.Gate, g.Gate, $"{g.ObservedText ?? (g.Observed is { } o ? F(o, "0.####") : "no data")} ({g.Status})", g.Status == "pass"));

    public static Criterion Equal(string name, double? measured, double expected, string unit = "") =>
        new(name, $"== {F(expected)}{unit}", measured is { } m ? $"{F(m)}{unit}" : "not measured", measured is { } v && v == expected);

    public static Criterion Above(string name, double? measured, double bound, string unit = "") =>
        new(name, $"> {F(bound)}{unit}", measured is { } m ? $"{F(m)}{unit}" : "not measured", measured is { } v && v > bound);

    public static Criterion Below(string name, double? measured, double bound, string unit = "") =>
        new(name, $"< {F(bound)}{unit}", measured is { } m ? $"{F(m)}{unit}" : "not measured", measured is { } v && v < bound);

    /// <summary>A chaos scenario's criteria, its recovery (never recovered is a failure of its own) and its invariants.</summary>
    public static IEnumerable<Criterion> Chaos(ScenarioResult result)
    {
        foreach (var c in result.Criteria) yield return c;
        yield return new Criterion("recovered on its own", $"within {F(result.RecoveryBoundSeconds)} s",
            result.RecoverySeconds is { } s ? $"{F(s)} s" : result.NeverRecoveredMessage, result.Recovered);
        yield return new Criterion("zero loss, no duplicate, no leak (invariants)", "all hold", result.Invariants.Describe(), result.Invariants.Passed);
    }

    /// <summary>
    /// Seed test 15: for each scenario, its newest 3 runs each compared with the 7 before (>10% worse than their median,
    /// confirmed by the U test) — fails when all 3 regressed; the first nights have no baseline and pass with that said.
    /// </summary>
    public static IEnumerable<Criterion> Baseline(IEnumerable<(string Scenario, IReadOnlyList<RunComparison> NewestFirst)> scenarios, int failAfter = 3)
    {
        foreach (var (scenario, recent) in scenarios)
        {
            var latest = recent.Count > 0 ? recent[0] : null;
            var measured = latest is null || latest.BaselineRuns == 0 ? "no baseline yet"
                : $"p95 {F(latest.P95)} ms vs median {F(latest.MedianP95 ?? 0)} ({Change(latest.P95Change)}), {F(latest.Throughput, "0")} req/s vs {F(latest.MedianThroughput ?? 0, "0")} ({Change(latest.ThroughputChange)}) over {latest.BaselineRuns} runs; "
                  + $"regressed {recent.TakeWhile(c => c.Regressed).Count()} of the last {Math.Min(failAfter, recent.Count)} in a row";
            yield return new Criterion($"{scenario}: no regression > 10% {failAfter} nights in a row", $"< {failAfter} regressed in a row", measured,
                !BaselineComparison.ConsecutiveRegressions(recent, failAfter));
        }
    }

    private static string Change(double? change) => change is { } c ? c.ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture) : "-";
}
