using Parley.Kit.Load.Reports;

namespace Parley.Kit.Load.Baselines;

/// <summary>How one run compares with the runs of the same scenario before it.</summary>
public sealed record RunComparison(
    string Scenario,
    DateTimeOffset StartedAt,
    int BaselineRuns,
    double? MedianP95,
    double? MedianThroughput,
    double P95,
    double Throughput,
    double? P95Change,
    double? ThroughputChange,
    MannWhitneyResult? Test,
    bool LatencyWorse,
    bool ThroughputWorse,
    bool Significant)
{
    /// <summary>
    /// p95 worse than the median by more than the threshold and the U test says it is not noise; or throughput down by
    /// more than the threshold (for the same offered load, that means errors or dropped arrivals).
    /// </summary>
    public bool Regressed => (LatencyWorse && Significant) || ThroughputWorse;
}

/// <summary>The seed's regression rule plus a statistical test, as pure functions over stored summaries.</summary>
public static class BaselineComparison
{
    /// <summary>p-value below which the latency shift is not noise.</summary>
    public const double Alpha = 0.01;

    /// <summary>Effect size (P(candidate slower)) at or below which a significant shift is too small to matter.</summary>
    public const double MinimumEffect = 0.56;

    /// <summary>
    /// Compares <paramref name="run"/> with up to <paramref name="window"/> earlier runs of its scenario under the same
    /// offered load (the seed's rule: more
    /// than <paramref name="threshold"/> worse than their median p95 or median throughput); significant when a one-sided Mann-Whitney U test on the latency distributions says the run
    /// is slower (p &lt; <see cref="Alpha"/>, effect &gt; <see cref="MinimumEffect"/>).
    /// </summary>
    public static RunComparison Compare(RunSummary run, IReadOnlyList<RunSummary> history, int window = 7, double threshold = 0.10)
    {
        // Only runs under the same offered load compare: same model, plan and connections.
        var earlier = history.Where(h => h.Scenario == run.Scenario && h.StartedAt < run.StartedAt
                && h.Model == run.Model && h.Plan == run.Plan && h.Connections == run.Connections)
            .OrderByDescending(h => h.StartedAt).Take(window).ToList();
        if (earlier.Count == 0)
            return new RunComparison(run.Scenario, run.StartedAt, 0, null, null, run.Latency.P95, run.Throughput, null, null, null, false, false, false);
        var medianP95 = Median(earlier.Select(h => h.Latency.P95));
        var medianThroughput = Median(earlier.Select(h => h.Throughput));
        var p95Change = medianP95 > 0 ? run.Latency.P95 / medianP95 - 1 : 0;
        var throughputChange = medianThroughput > 0 ? run.Throughput / medianThroughput - 1 : 0;

        var pooled = new LatencyHistogram();
        foreach (var h in earlier) pooled.Merge(LatencyHistogram.FromSnapshot(h.LatencyHistogram));
        var test = MannWhitney.Greater(LatencyHistogram.FromSnapshot(run.LatencyHistogram), pooled);
        var significant = test.PValue < Alpha && test.Effect > MinimumEffect;
        return new RunComparison(run.Scenario, run.StartedAt, earlier.Count, medianP95, medianThroughput, run.Latency.P95, run.Throughput,
            p95Change, throughputChange, test, p95Change > threshold, throughputChange < -threshold, significant);
    }

    /// <summary>
    /// The comparison of each of the newest <paramref name="count"/> runs with the runs before it, newest first; a scenario
    /// fails when the newest <c>failAfter</c> of them all regressed.
    /// </summary>
    public static IReadOnlyList<RunComparison> Recent(IReadOnlyList<RunSummary> history, string scenario, int count, int window = 7, double threshold = 0.10) =>
        history.Where(h => h.Scenario == scenario).OrderByDescending(h => h.StartedAt).Take(count)
            .Select(run => Compare(run, history, window, threshold)).ToList();

    public static bool ConsecutiveRegressions(IReadOnlyList<RunComparison> newestFirst, int failAfter) =>
        newestFirst.Count >= failAfter && newestFirst.Take(failAfter).All(c => c.Regressed);

    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0) return 0;
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}
