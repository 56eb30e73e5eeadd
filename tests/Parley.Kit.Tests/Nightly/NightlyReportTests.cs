using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Reports;
using Parley.Kit.Nightly;
using Parley.Kit.Tests.Load;

namespace Parley.Kit.Tests.Nightly;

/// <summary>The nightly suite's judging, baseline comparison and report, on figures made up here (no stack).</summary>
[Trait("Category", "Smoke")]
public sealed class NightlyReportTests
{
    private static readonly DateTimeOffset Night = new(2026, 12, 1, 2, 10, 0, TimeSpan.Zero);

    private static NightlyTestResult Test(int number, IReadOnlyList<Criterion> criteria, double p95 = 10) => new()
    {
        Number = number, Name = $"t{number}", Title = $"Test {number}", SeedCriteria = "seed text", Criteria = criteria,
        Figures = new Dictionary<string, double> { ["p95 ms"] = p95 },
    };

    private static NightlySummary Summary(DateTimeOffset at, double scale, params NightlyTestResult[] tests) => new()
    {
        StartedAt = at, FinishedAt = at.AddMinutes(90), Scale = scale, PlannedMinutes = 90, Tests = tests, Machine = "test",
    };

    private static Criterion Ok(string name = "ok") => new(name, "t", "m", true);

    private static Criterion Bad(string name = "bad") => new(name, "t", "m", false);

    [Fact]
    public void A_test_passes_only_when_it_judged_something_and_every_criterion_passed()
    {
        Assert.True(Test(1, [Ok(), Ok()]).Passed);
        Assert.False(Test(1, [Ok(), Bad()]).Passed);
        Assert.False(Test(1, []).Passed);
        Assert.False((Test(1, [Ok()]) with { Error = "IOException: boom" }).Passed);
        Assert.False(Summary(Night, 1, Test(1, [Ok()]), Test(2, [Bad()])).Passed);
        Assert.True(Summary(Night, 1, Test(1, [Ok()]), Test(2, [Ok()])).Passed);
    }

    [Fact]
    public void A_gate_without_data_is_a_failed_criterion()
    {
        var run = BaselineTests.Run(1, 0) with
        {
            Gates = [new GateVerdict("lost==0", "inconclusive", null, "no data"), new GateVerdict("p95<100ms", "pass", 10, "ok")],
        };

        var criteria = NightlyJudge.Gates(run).ToList();

        Assert.False(criteria.Single(c => c.Name == "lost==0").Passed);
        Assert.Contains("no data", criteria.Single(c => c.Name == "lost==0").Measured);
        Assert.True(criteria.Single(c => c.Name == "p95<100ms").Passed);
    }

    [Fact]
    public void A_gate_shows_what_it_measured_in_its_own_unit()
    {
        var latency = new GateResult(Gate.Parse("p95<100ms"), GateStatus.Fail, 6_157_238_271);
        var errors = new GateResult(Gate.Parse("errors<0.1%"), GateStatus.Fail, 0.8384);
        var run = BaselineTests.Run(1, 0) with
        {
            Gates = new[] { latency, errors }.Select(g => new GateVerdict(g.Gate.Text, "fail", g.Observed, g.Describe(), g.FormatObserved())).ToList(),
        };

        var criteria = NightlyJudge.Gates(run).ToList();

        Assert.Equal("6.16 s (fail)", criteria.Single(c => c.Name == "p95<100ms").Measured);
        Assert.Equal("83.84% (fail)", criteria.Single(c => c.Name == "errors<0.1%").Measured);
    }

    [Fact]
    public void Comparisons_fail_on_a_value_not_measured()
    {
        Assert.False(NightlyJudge.Equal("pel", null, 0).Passed);
        Assert.False(NightlyJudge.Equal("pel reclaimed", 3, double.NaN).Passed);
        Assert.False(NightlyJudge.Above("dlq writes", 0, 0).Passed);
        Assert.True(NightlyJudge.Above("dlq writes", 4, 0).Passed);
        Assert.False(NightlyJudge.Below("migration", 61, 60).Passed);
        Assert.True(NightlyJudge.Equal("reclaimed", 17, 17).Passed);
    }

    [Fact]
    public void A_chaos_run_that_never_recovered_fails_with_its_own_criterion()
    {
        var result = new ScenarioResult
        {
            Scenario = "redis-partition", Description = "d", Fault = "f", RecoverySeconds = null, RecoveryBoundSeconds = 30,
            Criteria = [Ok("sends succeed")], Invariants = new InvariantReport(),
        };

        var criteria = NightlyJudge.Chaos(result).ToList();

        var recovered = criteria.Single(c => c.Name == "recovered on its own");
        Assert.False(recovered.Passed);
        Assert.Equal(result.NeverRecoveredMessage, recovered.Measured);
        Assert.False(Test(9, criteria).Passed);
    }

    private static RunComparison Comparison(bool regressed, int baselineRuns = 7) =>
        new("soak", Night, baselineRuns, 10, 500, regressed ? 13 : 10, 500, regressed ? 0.3 : 0, 0, null, regressed, false, regressed);

    [Fact]
    public void The_baseline_fails_after_three_regressed_nights_in_a_row_only()
    {
        Assert.False(NightlyJudge.Baseline([("soak", [Comparison(true), Comparison(true), Comparison(true)])]).Single().Passed);
        Assert.True(NightlyJudge.Baseline([("soak", [Comparison(true), Comparison(true), Comparison(false)])]).Single().Passed);
        Assert.True(NightlyJudge.Baseline([("soak", [Comparison(false), Comparison(true), Comparison(true)])]).Single().Passed);
        var first = NightlyJudge.Baseline([("soak", [Comparison(false, baselineRuns: 0)])]).Single();
        Assert.True(first.Passed);
        Assert.Equal("no baseline yet", first.Measured);
    }

    [Fact]
    public void Recorded_runs_that_regress_three_times_fail_the_comparison_of_the_store()
    {
        // Seven steady nights, then three about 40% slower: the newest three each regress against the seven before them.
        var history = Enumerable.Range(1, 7).Select(day => BaselineTests.Run(day, 0))
            .Concat(Enumerable.Range(8, 3).Select(day => BaselineTests.Run(day, 5))).ToList();

        var recent = BaselineComparison.Recent(history, history[0].Scenario, 3);

        Assert.False(NightlyJudge.Baseline([(history[0].Scenario, recent)]).Single().Passed);
    }

    [Fact]
    public void Trends_compare_tonight_with_the_median_of_the_nights_before_only()
    {
        var previous = new[] { 10.0, 12, 11, 30 }.Select((p95, i) => Summary(Night.AddDays(i - 4), 1, Test(1, [Ok()], p95))).ToList();
        var later = Summary(Night.AddDays(1), 1, Test(1, [Ok()], 99));
        var tonight = Summary(Night, 1, Test(1, [Ok()], 22));

        var trend = NightlyReport.Trends(tonight, [.. previous, later]).Single();

        Assert.Equal(11.5, trend.Median);
        Assert.Equal(4, trend.Nights);
        Assert.Equal([10.0, 12, 11, 30, 22], trend.Values);
        Assert.Equal(22 / 11.5 - 1, trend.Change!.Value, 9);
    }

    [Fact]
    public void The_report_lists_every_test_with_its_criteria_verdicts_and_a_trend_chart_per_figure()
    {
        var tonight = Summary(Night, 0.02, Test(1, [Ok("lost==0"), Bad("p95<100ms")]), Test(2, [Ok("conflicts>0")]));

        var html = NightlyReport.Render(tonight, [Summary(Night.AddDays(-1), 0.02, Test(1, [Ok()], 9))]);

        Assert.Contains("SCALED RUN", html);
        Assert.Contains("<h2 id=\"t1\">1. Test 1 <span class=\"fail\">FAIL</span></h2>", html);
        Assert.Contains("<h2 id=\"t2\">2. Test 2 <span class=\"pass\">PASS</span></h2>", html);
        Assert.Contains("<td>p95&lt;100ms</td><td>t</td><td>m</td><td class=\"fail\">FAIL</td>", html);
        Assert.Equal(2, html.Split("<svg ").Length - 1);
        Assert.DoesNotContain("<script", html);
        Assert.DoesNotContain("http://", html.Replace("http://www.w3.org/2000/svg", ""));
    }

    [Fact]
    public void The_summary_round_trips_through_json()
    {
        var night = Summary(Night, 1, Test(8, [Ok("PEL reclaimed == PEL size")])) with { Baseline = [Comparison(false)] };

        var back = NightlySummary.FromJson(night.ToJson());

        Assert.Equal(night.StartedAt, back.StartedAt);
        Assert.Equal("PEL reclaimed == PEL size", back.Tests.Single().Criteria.Single().Name);
        Assert.Equal(10, back.Tests.Single().Figures["p95 ms"]);
        Assert.Equal("soak", back.Baseline.Single().Scenario);
        Assert.True(back.Passed);
    }

    [Fact]
    public void The_history_compares_only_nights_of_the_same_scale()
    {
        var directory = Directory.CreateTempSubdirectory("nightly-history-").FullName;
        try
        {
            var history = new NightlyHistory(directory);
            history.Record(Summary(Night, 1, Test(1, [Ok()])));
            history.Record(Summary(Night.AddDays(1), 0.02, Test(1, [Ok()])));

            Assert.Equal(Night, history.Recent(1).Single().StartedAt);
            Assert.Equal(Night.AddDays(1), history.Recent(0.02).Single().StartedAt);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public void The_catalog_holds_seed_tests_one_to_fifteen_at_their_seed_durations()
    {
        Assert.Equal(Enumerable.Range(1, 15), NightlyCatalog.All.Select(t => t.Number));
        Assert.Equal(TimeSpan.FromMinutes(30), NightlyCatalog.All[0].Duration(1));
        Assert.Equal(TimeSpan.FromMinutes(30), NightlyCatalog.All[13].Duration(1));
        Assert.Equal([1, 6, 14], NightlyCatalog.All.Where(t => t.Soak).Select(t => t.Number));
        Assert.Equal(TimeSpan.FromSeconds(36), NightlyCatalog.All[0].Duration(0.02));
        Assert.Equal(NightlyOptions.MinimumDuration, NightlyCatalog.All[2].Duration(0.001));
        Assert.All(NightlyCatalog.All.Where(t => t.Kind == NightlyKind.Load), t => Assert.NotEmpty(t.Gates));
        Assert.All(NightlyCatalog.All.Where(t => t.Kind == NightlyKind.Chaos), t => Assert.NotNull(ChaosCatalog.Find(t.ChaosScenario!)));
    }

    [Fact]
    public void A_budget_shorter_than_the_plan_lowers_the_scale_to_fit()
    {
        var options = new NightlyOptions { OutputDirectory = "o", BaselineDirectory = "b" };
        var tests = NightlyCatalog.All;
        Assert.Equal(1, NightlySuite.EffectiveScale(tests, options));

        var scale = NightlySuite.EffectiveScale(tests, options with { BudgetMinutes = 60 });

        Assert.InRange(scale, 0.01, 0.99);
        Assert.InRange(tests.Sum(t => t.Estimate(scale).TotalMinutes), 0, 60.5);
        Assert.Equal(1, NightlySuite.EffectiveScale(tests, options with { BudgetMinutes = 100_000 }));
    }

    [Fact]
    public void Metric_totals_keep_the_result_label_for_hit_ratios()
    {
        var totals = MetricsReading.Totals("""
            parley_membership_cache_lookups_total{result="hit",otel_scope_name="parley"} 90
            parley_membership_cache_lookups_total{result="miss",otel_scope_name="parley"} 10
            parley_membership_cache_lookups_total{result="bypass",otel_scope_name="parley"} 5
            parley_outbox_failed_total 3
            """);

        Assert.Equal(105, totals["parley_membership_cache_lookups_total"]);
        Assert.Equal(3, totals["parley_outbox_failed_total"]);
        Assert.Equal(0.9, MetricsReading.HitRatio(totals, "parley_membership_cache_lookups_total"));
        Assert.Null(MetricsReading.HitRatio(totals, "parley_cache_requests_total"));
    }
}
