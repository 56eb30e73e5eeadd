using Parley.Kit.Load;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Reports;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Tests.Load;

[Trait("Category", "Smoke")]
public sealed class BaselineTests
{
    private static LatencyHistogram Ms(params double[] values)
    {
        var h = new LatencyHistogram();
        foreach (var v in values) h.Record((long)(v * 1_000_000));
        return h;
    }

    [Fact]
    public void Mann_whitney_matches_the_textbook_computation_with_ties()
    {
        // Reference: U = 96, z = 2.8984, one-sided p = 0.001875 (rank sums with average ranks, tie-corrected variance).
        var current = Ms(12, 15, 11, 18, 20, 14, 16, 22, 19, 17);
        var baseline = Ms(10, 11, 9, 13, 12, 14, 10, 11, 15, 12, 13);

        var result = MannWhitney.Greater(current, baseline);

        Assert.Equal(96, result.U, 6);
        Assert.Equal(2.8984, result.Z, 3);
        Assert.Equal(0.001875, result.PValue, 4);
        Assert.Equal(96.0 / 110, result.Effect, 6);
    }

    [Fact]
    public void Mann_whitney_finds_no_shift_between_equal_distributions()
    {
        var random = new Random(3);
        var a = Ms([.. Enumerable.Range(0, 5000).Select(_ => 5 + random.NextDouble() * 10)]);
        var b = Ms([.. Enumerable.Range(0, 5000).Select(_ => 5 + random.NextDouble() * 10)]);

        var result = MannWhitney.Greater(a, b);

        Assert.True(result.PValue > BaselineComparison.Alpha, $"p = {result.PValue}");
        Assert.InRange(result.Effect, 0.47, 0.53);
    }

    [Fact]
    public void The_normal_cdf_is_accurate()
    {
        Assert.Equal(0.5, MannWhitney.NormalCdf(0), 6);
        Assert.Equal(0.975002, MannWhitney.NormalCdf(1.96), 5);
        Assert.Equal(0.001350, MannWhitney.NormalCdf(-3), 5);
    }

    internal static RunSummary Run(int day, double shiftMs, double throughput = 1000)
    {
        var random = new Random(day);
        var latency = Ms([.. Enumerable.Range(0, 2000).Select(_ => 10 + shiftMs + random.NextDouble() * 4)]);
        return new RunSummary
        {
            Scenario = "history",
            StartedAt = new DateTimeOffset(2026, 11, day, 2, 0, 0, TimeSpan.Zero),
            FinishedAt = new DateTimeOffset(2026, 11, day, 2, 1, 0, TimeSpan.Zero),
            Url = "http://127.0.0.1:8080/", Model = "open", Plan = "1000 for 60s", Connections = 64, WarmUpSeconds = 5,
            MeasuredSeconds = 2000 / throughput, Requests = 2000, Ok = 2000, Expected = 0, Errors = 0,
            Latency = LatencySummary.Of(latency), Operations = new Dictionary<string, OperationSummary>(),
            ErrorKinds = new Dictionary<string, long>(), Histograms = new Dictionary<string, LatencySummary>(),
            Counters = new Dictionary<string, long>(), Server = ServerSummary.Of([]), Timeline = [], Gates = [],
            Verdict = "pass", Machine = "test", LatencyHistogram = latency.ToSnapshot(),
        };
    }

    [Fact]
    public void A_run_much_slower_than_the_median_of_the_last_seven_regressed()
    {
        var history = Enumerable.Range(1, 7).Select(day => Run(day, 0)).ToList();
        var slow = Run(8, 5);

        var comparison = BaselineComparison.Compare(slow, history);

        Assert.Equal(7, comparison.BaselineRuns);
        Assert.True(comparison.LatencyWorse);
        Assert.True(comparison.Significant);
        Assert.True(comparison.Regressed);
    }

    [Fact]
    public void Noise_within_the_threshold_is_not_a_regression()
    {
        var history = Enumerable.Range(1, 7).Select(day => Run(day, 0)).ToList();

        var comparison = BaselineComparison.Compare(Run(8, 0.2), history);

        Assert.False(comparison.Regressed);
    }

    [Fact]
    public void Only_consecutive_regressions_fail()
    {
        var history = Enumerable.Range(1, 7).Select(day => Run(day, 0)).ToList();
        history.Add(Run(8, 6));
        history.Add(Run(9, 6));

        Assert.False(BaselineComparison.ConsecutiveRegressions(BaselineComparison.Recent(history, "history", 3), 3));
        history.Add(Run(10, 6));
        Assert.True(BaselineComparison.ConsecutiveRegressions(BaselineComparison.Recent(history, "history", 3), 3));
        history.Add(Run(11, 0));
        Assert.False(BaselineComparison.ConsecutiveRegressions(BaselineComparison.Recent(history, "history", 3), 3));
    }

    [Fact]
    public void Runs_under_another_offered_load_are_not_a_baseline()
    {
        var history = Enumerable.Range(1, 7).Select(day => Run(day, 0) with { Plan = "4000 for 60s" }).ToList();

        var comparison = BaselineComparison.Compare(Run(8, 5), history);

        Assert.Equal(0, comparison.BaselineRuns);
        Assert.False(comparison.Regressed);
    }

    [Fact]
    public void A_throughput_drop_regresses_without_a_latency_shift()
    {
        var history = Enumerable.Range(1, 7).Select(day => Run(day, 0)).ToList();

        var comparison = BaselineComparison.Compare(Run(8, 0, throughput: 700), history);

        Assert.True(comparison.ThroughputWorse);
        Assert.True(comparison.Regressed);
    }

    [Fact]
    public void The_store_round_trips_runs_and_draws_a_trend()
    {
        var directory = Path.Combine(Path.GetTempPath(), $"baselines-{Guid.NewGuid():N}");
        try
        {
            var store = new BaselineStore(directory);
            store.Record(Run(2, 0));
            store.Record(Run(1, 0));

            var runs = store.Load("history");

            Assert.Equal([1, 2], runs.Select(r => r.StartedAt.Day));
            Assert.Equal(2000, runs[0].LatencyHistogram.Count);
            Assert.StartsWith("<svg", BaselineStore.TrendChart("history", runs), StringComparison.Ordinal);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
    }
}

[Trait("Category", "Smoke")]
public sealed class TextReportTests
{
    [Fact]
    public void The_final_table_lists_every_operation_and_scenario_histogram()
    {
        var latency = new LatencyHistogram();
        latency.Record(2_000_000);
        var one = new OperationSummary(1, 0, new Dictionary<string, long> { ["201"] = 1 }, LatencySummary.Of(latency));
        var run = new RunSummary
        {
            Scenario = "participants", StartedAt = DateTimeOffset.UnixEpoch, FinishedAt = DateTimeOffset.UnixEpoch, Url = "http://127.0.0.1/",
            Model = "open", Plan = "p", Connections = 1, WarmUpSeconds = 0, MeasuredSeconds = 1, Requests = 2, Ok = 2, Expected = 0, Errors = 0,
            Latency = LatencySummary.Of(latency), Operations = new Dictionary<string, OperationSummary> { ["remove"] = one, ["add"] = one },
            ErrorKinds = new Dictionary<string, long>(), Histograms = new Dictionary<string, LatencySummary> { ["invalidation"] = LatencySummary.Of(latency) },
            Counters = new Dictionary<string, long> { ["stale"] = 0 }, Server = ServerSummary.Of([]), Timeline = [], Gates = [], Verdict = "pass",
            Machine = "test", LatencyHistogram = latency.ToSnapshot(),
        };

        var lines = TextReport.Lines(run).ToList();

        Assert.Contains(lines, l => l.StartsWith("add ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("remove ", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("invalidation*", StringComparison.Ordinal));
    }
}
