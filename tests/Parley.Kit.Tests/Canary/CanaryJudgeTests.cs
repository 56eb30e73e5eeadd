using Parley.Kit.Canary;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Tests.Canary;

/// <summary>The canary's statistical judge on synthetic samples, its plan file and its figures from /metrics text.</summary>
[Trait("Category", "Smoke")]
public sealed class CanaryJudgeTests
{
    // Latencies around 10 ms with a long right tail (log-normal), deterministic per seed.
    private static List<double> Latencies(int seed, int count, double scale = 1)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, count).Select(_ =>
        {
            var normal = Math.Sqrt(-2 * Math.Log(1 - random.NextDouble())) * Math.Cos(2 * Math.PI * random.NextDouble());
            return 0.010 * Math.Exp(0.4 * normal) * scale;
        }).ToList();
    }

    private static readonly double[] Bounds = [0.0005, 0.001, 0.0015, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, double.PositiveInfinity];

    private static LatencyDistribution Histogram(IEnumerable<double> samples)
    {
        var counts = new long[Bounds.Length];
        foreach (var s in samples) counts[Array.FindIndex(Bounds, b => s <= b)]++;
        return new LatencyDistribution(counts.Select((c, i) => new LatencyBucket(i == 0 ? 0 : Bounds[i - 1], Bounds[i], c)));
    }

    private static MannWhitneyResult Compare(LatencyDistribution canary, LatencyDistribution control, long minSamples = 200) =>
        MannWhitney.Compare(canary, control, confidence: 0.95, minEffect: 0.25, minSamples);

    [Fact]
    public void U_z_and_p_match_a_hand_computed_example_with_ties()
    {
        // Canary 2,3,3,4 against control 1,2,3: mid-ranks give U = 9.5; the tie term (2³-2)+(3³-3) = 30 makes
        // σ² = 4·3/12·(8 - 30/42) = 7.2857, so z = (9.5 - 6 - 0.5)/2.6992 = 1.1114 and the one-sided p = 0.1332.
        var result = MannWhitney.Compare(LatencyDistribution.FromSamples([2, 3, 3, 4]), LatencyDistribution.FromSamples([1, 2, 3]), 0.95, 0, 1);
        Assert.Equal(9.5, result.U, 6);
        Assert.Equal(1.1114, result.Z, 3);
        Assert.Equal(0.1332, result.PValue, 3);
        Assert.Equal(Verdict.Pass, result.Verdict);
    }

    [Fact]
    public void Two_samples_of_one_distribution_pass()
    {
        var result = Compare(LatencyDistribution.FromSamples(Latencies(1, 2000)), LatencyDistribution.FromSamples(Latencies(2, 2000)));
        Assert.Equal(Verdict.Pass, result.Verdict);
        Assert.True(result.PValue > 0.05, $"p = {result.PValue}");
    }

    [Fact]
    public void A_canary_twice_as_slow_fails_from_raw_samples_and_from_histogram_buckets()
    {
        var raw = Compare(LatencyDistribution.FromSamples(Latencies(3, 500, scale: 2)), LatencyDistribution.FromSamples(Latencies(4, 500)));
        Assert.Equal(Verdict.Fail, raw.Verdict);
        Assert.True(raw.PValue < 1e-6, $"p = {raw.PValue}");
        Assert.InRange(raw.Effect, 0.7, 1.3);

        var buckets = Compare(Histogram(Latencies(3, 500, scale: 2)), Histogram(Latencies(4, 500)));
        Assert.Equal(Verdict.Fail, buckets.Verdict);
        Assert.True(buckets.PValue < 1e-6, $"p = {buckets.PValue}");
    }

    [Fact]
    public void A_significant_shift_below_the_minimum_effect_passes()
    {
        // 8% slower over 20,000 samples each: clearly significant, but under the 25% minimum effect.
        var result = Compare(LatencyDistribution.FromSamples(Latencies(5, 20_000, scale: 1.08)), LatencyDistribution.FromSamples(Latencies(6, 20_000)));
        Assert.True(result.PValue < 0.001, $"p = {result.PValue}");
        Assert.True(result.Effect is > 0.02 and < 0.25, $"effect = {result.Effect}");
        Assert.Equal(Verdict.Pass, result.Verdict);
    }

    [Fact]
    public void Too_few_samples_in_either_variant_is_inconclusive_even_when_clearly_slower()
    {
        Assert.Equal(Verdict.Inconclusive, Compare(LatencyDistribution.FromSamples(Latencies(7, 50, scale: 5)), LatencyDistribution.FromSamples(Latencies(8, 1000))).Verdict);
        Assert.Equal(Verdict.Inconclusive, Compare(LatencyDistribution.FromSamples(Latencies(9, 1000, scale: 5)), LatencyDistribution.Empty).Verdict);
    }

    private static CanaryPlan Plan(string extra = "") => CanaryPlan.Parse($$"""
        flag: message.history.replica.enabled
        stages: [{percent: 10, hold: 2m}, {percent: 100, hold: 1m}]
        interval: 30s
        minSamples: 100
        {{extra}}
        """);

    private static VariantInterval Variant(IEnumerable<double> latencies, long errors = 0)
    {
        var distribution = LatencyDistribution.FromSamples(latencies);
        return new VariantInterval(distribution, new Dictionary<string, long> { ["ok"] = distribution.Count - errors, ["fallback"] = errors }, 0.0001 * distribution.Count, distribution.Count);
    }

    private static IntervalFigures Figures(VariantInterval canary, VariantInterval control, double saturation = 0.2, params string[] breakers) =>
        new(canary, control, saturation, "db_pool_saturation{source=primary}", breakers, 0, 1, []);

    [Fact]
    public void The_plan_file_of_the_contract_parses_with_its_defaults_and_bad_plans_are_refused()
    {
        var plan = CanaryPlan.Parse("""
            flag: message.history.replica.enabled
            stages: [{percent: 10, hold: 2m}, {percent: 25, hold: 2m}, {percent: 50, hold: 2m}, {percent: 100, hold: 1m}]
            interval: 30s
            minSamples: 200
            maxHold: 10m
            criteria:
              latencyP95OverSlo: 20%
              latencyIncrease: {test: mann-whitney, confidence: 0.95, minEffect: 25%}
              errorRateIncrease: 20%
              queueWaitIncrease: 50%
              poolSaturation: 0.85
              breakerOpen: true
            slo: {p95: 50ms}
            """);
        Assert.Equal([10, 25, 50, 100], plan.Stages.Select(s => s.Percent));
        Assert.Equal(TimeSpan.FromMinutes(2), plan.Stages[0].Hold);
        Assert.Equal(TimeSpan.FromSeconds(30), plan.Interval);
        Assert.Equal(TimeSpan.FromMinutes(10), plan.MaxHold);
        Assert.Equal(new CanaryCriteria(), plan.Criteria);
        Assert.Equal(TimeSpan.FromMilliseconds(50), plan.SloP95);

        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("stages: [{percent: 10}]"));
        Assert.Throws<CanaryPlanException>(() => Plan("maxHold: soon"));
        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("flag: x\nstages: [{percent: 50}, {percent: 20}]"));
        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("flag: x\nstages: [{percent: 50}]\ncriteria: {latencyIncrease: {test: t-test}}"));
        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("flag: x\nstages: [{percent: 50}]\nbogus: 1"));
        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("flag: x\nstages: [{percent: 50}]\ncriteria: {breakers: [pgbouncer]}"));
        Assert.Throws<CanaryPlanException>(() => CanaryPlan.Parse("flag: x\nstages: [{percent: 50}]\nprometheus: {url: 'localhost:9090'}"));

        var withPrometheus = CanaryPlan.Parse("flag: x\nstages: [{percent: 50}]\nprometheus: {url: 'http://127.0.0.1:9090', match: 'job=\"parley\"'}");
        Assert.Equal(new Uri("http://127.0.0.1:9090"), withPrometheus.PrometheusUrl);
        Assert.Equal("job=\"parley\"", withPrometheus.PrometheusMatch);
    }

    [Fact]
    public void Each_criterion_fails_on_its_own_regression_and_none_fails_a_healthy_interval()
    {
        var plan = Plan();
        var healthy = CanaryJudge.Judge(plan, Figures(Variant(Latencies(10, 500)), Variant(Latencies(11, 500))), hasControl: true);
        Assert.Equal(Verdict.Pass, CanaryJudge.Decide(healthy));

        string[] Failed(IntervalFigures f) => [.. CanaryJudge.Judge(plan, f, hasControl: true).Where(c => c.Verdict == Verdict.Fail).Select(c => c.Name)];
        Assert.Equal([CanaryJudge.LatencyP95OverSlo, CanaryJudge.LatencyIncrease], Failed(Figures(Variant(Latencies(12, 500, scale: 8)), Variant(Latencies(13, 500)))));
        Assert.Equal([CanaryJudge.ErrorRateIncrease], Failed(Figures(Variant(Latencies(14, 500), errors: 20), Variant(Latencies(15, 500)))));
        Assert.Equal([CanaryJudge.PoolSaturation], Failed(Figures(Variant(Latencies(16, 500)), Variant(Latencies(17, 500)), saturation: 0.9)));
        Assert.Equal([CanaryJudge.BreakerOpen], Failed(Figures(Variant(Latencies(18, 500)), Variant(Latencies(19, 500)), 0.2, "replica=isolated")));
        var replicaOnly = Plan("criteria: {breakers: [replica]}");
        Assert.Equal(Verdict.Pass, CanaryJudge.Decide(CanaryJudge.Judge(replicaOnly, Figures(Variant(Latencies(18, 500)), Variant(Latencies(19, 500)), 0.2, "cache=isolated"), true)));
        var slowPool = Variant(Latencies(20, 500)) with { PoolWaitSum = 500 * 0.005 };
        Assert.Equal([CanaryJudge.QueueWaitIncrease], Failed(Figures(slowPool, Variant(Latencies(21, 500)))));
    }

    [Fact]
    public void A_regression_while_the_control_is_over_the_slo_too_holds_instead_of_rolling_back()
    {
        // A stall hits both variants: the canary slower, with fallbacks and the replica breaker isolated, but the control's
        // p95 (~150 ms) is over the 60 ms limit as well, so nothing is laid at the canary's door.
        var plan = Plan();
        var stalled = CanaryJudge.Judge(plan, Figures(Variant(Latencies(30, 500, scale: 32), errors: 100), Variant(Latencies(31, 500, scale: 8)), 0.2, "replica=isolated"), hasControl: true);
        Assert.Equal(Verdict.Inconclusive, CanaryJudge.Decide(stalled));
        Assert.Equal([CanaryJudge.LatencyP95OverSlo, CanaryJudge.LatencyIncrease, CanaryJudge.ErrorRateIncrease, CanaryJudge.BreakerOpen],
            stalled.Where(c => c.Detail.Contains("control degraded too", StringComparison.Ordinal)).Select(c => c.Name));

        // The same canary against a control within the SLO (p95 ~40 ms) fails on every one of them.
        var healthyControl = CanaryJudge.Judge(plan, Figures(Variant(Latencies(30, 500, scale: 32), errors: 100), Variant(Latencies(31, 500, scale: 2)), 0.2, "replica=isolated"), hasControl: true);
        Assert.Equal([CanaryJudge.LatencyP95OverSlo, CanaryJudge.LatencyIncrease, CanaryJudge.ErrorRateIncrease, CanaryJudge.BreakerOpen],
            healthyControl.Where(c => c.Verdict == Verdict.Fail).Select(c => c.Name));
    }

    [Fact]
    public void A_replica_breaker_that_opened_and_closed_again_fails_the_check_only_if_canary_reads_failed_over()
    {
        var plan = Plan();
        Verdict Breaker(VariantInterval canary) => CanaryJudge.Judge(plan, Figures(canary, Variant(Latencies(41, 500))) with { BreakerOpenings = 1 }, hasControl: true)
            .Single(c => c.Name == CanaryJudge.BreakerOpen).Verdict;
        Assert.Equal(Verdict.Pass, Breaker(Variant(Latencies(40, 500))));
        Assert.Equal(Verdict.Fail, Breaker(Variant(Latencies(40, 500), errors: 1)));
    }

    [Fact]
    public void Too_little_traffic_holds_and_at_full_rollout_only_the_absolute_criteria_judge()
    {
        var plan = Plan();
        var few = CanaryJudge.Judge(plan, Figures(Variant(Latencies(22, 20)), Variant(Latencies(23, 500))), hasControl: true);
        Assert.Equal(Verdict.Inconclusive, CanaryJudge.Decide(few));

        var full = CanaryJudge.Judge(plan, Figures(Variant(Latencies(24, 500)), VariantInterval.None), hasControl: false);
        Assert.Equal(Verdict.Pass, CanaryJudge.Decide(full));
        Assert.Equal(3, full.Count(c => c.Verdict == Verdict.NotApplicable));
    }

    [Fact]
    public void Interval_figures_are_the_difference_of_two_scrapes_with_a_missing_error_counter_as_zero()
    {
        const string flag = "message.history.replica.enabled";
        static string Text(long onFast, long onSlow, long offFast, long fallback) => $$"""
            parley_flag_request_duration_seconds_bucket{flag="{{flag}}",variant="on",outcome="ok",le="0.01"} {{onFast}}
            parley_flag_request_duration_seconds_bucket{flag="{{flag}}",variant="on",outcome="ok",le="+Inf"} {{onFast + onSlow}}
            parley_flag_request_duration_seconds_count{flag="{{flag}}",variant="on",outcome="ok"} {{onFast + onSlow}}
            parley_flag_request_duration_seconds_bucket{flag="{{flag}}",variant="off",outcome="ok",le="0.01"} {{offFast}}
            parley_flag_request_duration_seconds_bucket{flag="{{flag}}",variant="off",outcome="ok",le="+Inf"} {{offFast}}
            parley_flag_request_duration_seconds_count{flag="{{flag}}",variant="off",outcome="ok"} {{offFast}}
            parley_flag_request_duration_seconds_count{flag="{{flag}}",variant="off",outcome="fallback"} {{fallback}}
            parley_flag_request_duration_seconds_count{flag="other.flag",variant="on",outcome="error"} 99
            db_pool_saturation{source="replica"} 0.5
            parley_replica_breaker_state 0
            """;
        var before = NodeSnapshot.Parse(flag, PrometheusText.Parse(Text(10, 1, 20, 0)));
        var after = NodeSnapshot.Parse(flag, PrometheusText.Parse(Text(15, 4, 50, 2)));
        var f = IntervalFigures.Between(new Dictionary<string, NodeSnapshot> { ["node"] = before }, new Dictionary<string, NodeSnapshot> { ["node"] = after }, []);
        Assert.Equal(8, f.Canary.Requests);
        Assert.Equal([5L, 3L], f.Canary.Latency.Buckets.Select(b => b.Count));
        Assert.Equal(0, f.Canary.Errors);
        Assert.Equal(32, f.Control.Requests);
        Assert.Equal(2, f.Control.Errors);
        Assert.Equal(0.5, f.PoolSaturation);
        Assert.Empty(f.OpenBreakers);

        // A node not read at the interval's start (its scrape failed) gives its gauges but no requests: everything it served
        // since it started is not this interval's.
        var missed = IntervalFigures.Between(new Dictionary<string, NodeSnapshot>(), new Dictionary<string, NodeSnapshot> { ["node"] = after }, []);
        Assert.Equal(0, missed.Canary.Requests + missed.Control.Requests);
        Assert.Equal(0.5, missed.PoolSaturation);
        Assert.Equal(1, missed.NodesScraped);
    }

    [Fact]
    public void Pool_saturation_is_the_mean_over_the_interval_from_the_time_weighted_counters_and_the_gauge_without_them()
    {
        static NodeSnapshot Node(double gauge, double? busy, double? observed) => NodeSnapshot.Parse("f", PrometheusText.Parse(
            $"db_pool_saturation{{source=\"replica\"}} {gauge}\n"
            + (busy is null ? "" : $"db_pool_saturation_seconds_total{{source=\"replica\"}} {busy}\ndb_pool_observed_seconds_total{{source=\"replica\"}} {observed}\n")
            + "pgbouncer_pool_saturation{pool=\"parley\"} 0.3\n"));
        static IntervalFigures Between(NodeSnapshot before, NodeSnapshot after) => IntervalFigures.Between(
            new Dictionary<string, NodeSnapshot> { ["n"] = before }, new Dictionary<string, NodeSnapshot> { ["n"] = after }, []);

        // Full at the instant of the scrape, but 1.8 s of saturation over 3 s observed: 0.6 over the interval.
        var mean = Between(Node(0.1, 10, 100), Node(1, 11.8, 103));
        Assert.Equal(0.6, mean.PoolSaturation, 6);
        Assert.Contains("mean over the interval", mean.SaturatedPool);
        Assert.Equal(Verdict.Pass, CanaryJudge.Judge(Plan(), mean, hasControl: false)
            .Single(r => r.Name == CanaryJudge.PoolSaturation).Verdict);
        // Saturated for the whole interval fails as before.
        Assert.Equal(1, Between(Node(1, 10, 100), Node(1, 13, 103)).PoolSaturation, 6);
        // Without the counters (an older node), at the interval's first reading, or after a reset: the gauge at the end.
        Assert.Equal(0.9, Between(Node(0.1, null, null), Node(0.9, null, null)).PoolSaturation);
        Assert.Equal(0.9, IntervalFigures.Between(new Dictionary<string, NodeSnapshot>(), new Dictionary<string, NodeSnapshot> { ["n"] = Node(0.9, 5, 50) }, []).PoolSaturation);
        Assert.Equal(0.9, Between(Node(0.1, 10, 100), Node(0.9, 1, 2)).PoolSaturation);
        // PgBouncer's pools have no counters: its gauge counts when higher.
        Assert.Equal(0.3, Between(Node(0.1, 10, 100), Node(1, 10.3, 103)).PoolSaturation, 6);
        Assert.StartsWith("pgbouncer_pool_saturation", Between(Node(0.1, 10, 100), Node(1, 10.3, 103)).SaturatedPool);
    }
}
