using System.Diagnostics;
using System.Globalization;
using Parley.Data;
using Parley.Data.Users;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Load;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Reports;

namespace Parley.Kit.Nightly;

/// <summary>The stack a night runs on (one <see cref="ChaosEnvironment"/>: stack behind fault proxies) and what its tests leave for test 15.</summary>
public sealed class NightlyEnvironment(ChaosEnvironment environment, NightlyOptions options, double scale)
{
    public ChaosEnvironment Environment { get; } = environment;
    public NightlyOptions Options { get; } = options;
    public double Scale { get; } = scale;
    /// <summary>The night's load runs, in order, for the baseline comparison.</summary>
    public List<RunSummary> LoadRuns { get; } = [];
}

/// <summary>
/// <c>parley nightly</c>: seed 002's tests 1–15 on one fresh local stack, each judged by its criteria, then one report
/// (report.html, summary.json) with the comparison against the last 7 nights. Each load test runs on its own new
/// Parley node (a real process), so its /metrics counters are its own.
/// </summary>
public static class NightlySuite
{
    /// <summary>The admin the load tests set runtime flags with (the chaos scenarios log in as their own, with another password).</summary>
    public const string AdminHandle = "nightly_admin";

    /// <summary>The scale the plan runs at: <see cref="NightlyOptions.Scale"/>, lowered so the estimate fits the budget when there is one.</summary>
    public static double EffectiveScale(IReadOnlyList<NightlyTest> tests, NightlyOptions options)
    {
        var scale = options.Scale;
        if (options.BudgetMinutes is not { } budget) return scale;
        var fixedSeconds = tests.Sum(t => (t.Estimate(scale) - t.Duration(scale)).TotalSeconds);
        var loadSeconds = tests.Sum(t => t.SeedDuration.TotalSeconds * (t.Kind == NightlyKind.Load ? 1 : 0));
        if (loadSeconds <= 0 || tests.Sum(t => t.Estimate(scale).TotalSeconds) <= budget * 60) return scale;
        return Math.Min(scale, Math.Max(0, budget * 60 - fixedSeconds) / loadSeconds);
    }

    public static IReadOnlyList<NightlyTest> Selected(NightlyOptions options) =>
        NightlyCatalog.All.Where(t => options.Only is null || options.Only.Contains(t.Number)).ToList();

    /// <summary>The budget, printed before anything starts: each test's duration and the total.</summary>
    public static IEnumerable<string> BudgetLines(IReadOnlyList<NightlyTest> tests, NightlyOptions options, double scale)
    {
        var total = TimeSpan.FromSeconds(tests.Sum(t => t.Estimate(scale).TotalSeconds));
        yield return string.Create(CultureInfo.InvariantCulture,
            $"nightly: {tests.Count} tests, scale {scale:0.####}{(scale < 1 ? " (SHORTENED: not a night of record)" : "")}{(options.BudgetMinutes is { } b ? $", budget {b:0.#} min" : "")}; expected about {total.TotalMinutes:0} min");
        foreach (var t in tests)
            yield return string.Create(CultureInfo.InvariantCulture, $"  {t.Number,2}. {t.Title,-42} {(t.Kind == NightlyKind.Load ? $"{t.Duration(scale).TotalMinutes:0.#} min measured (seed {t.SeedDuration.TotalMinutes:0} min)" : t.Kind == NightlyKind.Chaos ? $"chaos scenario {t.ChaosScenario} (fixed timeline)" : "compares the night's load runs with their last 7")}");
    }

    public static async Task<NightlySummary> RunAsync(NightlyOptions options, CancellationToken ct)
    {
        var tests = Selected(options);
        var scale = EffectiveScale(tests, options);
        foreach (var line in BudgetLines(tests, options, scale)) options.Progress?.Report(line);
        var startedAt = DateTimeOffset.UtcNow;
        Directory.CreateDirectory(options.OutputDirectory);
        var results = new List<NightlyTestResult>();
        var comparisons = new List<RunComparison>();
        var history = new NightlyHistory(Path.Combine(options.BaselineDirectory, "nightly"));
        NightlySummary Summary() => new()
        {
            StartedAt = startedAt, FinishedAt = DateTimeOffset.UtcNow, Scale = scale, BudgetMinutes = options.BudgetMinutes,
            PlannedMinutes = Math.Round(tests.Sum(t => t.Estimate(scale).TotalMinutes), 1), Tests = results.ToList(), Baseline = comparisons.ToList(),
            Machine = $"{System.Environment.ProcessorCount} cores shared by the nodes, PostgreSQL, replica, Redis and the load generator ({System.Environment.MachineName})",
        };
        await using (var chaos = await ChaosEnvironment.StartAsync(options.Progress, ct).ConfigureAwait(false))
        {
            await using (var db = new ParleyDatabase(DataOptions.ForTool(chaos.Stack.PrimaryConnectionString)))
                await new AdminRoles(db).GrantAsync(AdminHandle, holdUntilRegistered: true, ct).ConfigureAwait(false);
            var env = new NightlyEnvironment(chaos, options, scale);
            foreach (var test in tests)
            {
                options.Progress?.Report($"test {test.Number}: {test.Title} ...");
                var watch = Stopwatch.StartNew();
                NightlyTestResult result;
                try
                {
                    result = test.Kind switch
                    {
                        NightlyKind.Load => await RunLoadAsync(env, test, ct).ConfigureAwait(false),
                        NightlyKind.Chaos => await RunChaosAsync(env, test, ct).ConfigureAwait(false),
                        _ => RunBaseline(env, test, comparisons),
                    };
                }
                catch (Exception e) when (!ct.IsCancellationRequested)
                {
                    result = Base(test, scale) with { Error = $"{e.GetType().Name}: {e.Message}" };
                }
                result = result with { Seconds = Math.Round(watch.Elapsed.TotalSeconds, 1) };
                results.Add(result);
                options.Progress?.Report($"test {test.Number}: {result.Verdict.ToUpperInvariant()} — " + string.Join("; ", result.Criteria.Where(c => !c.Passed).Select(c => $"{c.Name}: {c.Measured}").Prepend(result.Error ?? "").Where(s => s.Length > 0)));
                NightlyReport.Write(options.OutputDirectory, Summary(), history.Recent(scale));
            }
        }
        var summary = Summary();
        NightlyReport.Write(options.OutputDirectory, summary, history.Recent(scale));
        history.Record(summary);
        return summary;
    }

    private static NightlyTestResult Base(NightlyTest test, double scale) => new()
    {
        Number = test.Number, Name = test.Name, Title = test.Title, SeedCriteria = test.SeedCriteria, PlannedSeconds = test.Estimate(scale).TotalSeconds,
    };

    private static async Task<NightlyTestResult> RunLoadAsync(NightlyEnvironment env, NightlyTest test, CancellationToken ct)
    {
        var id = $"nightly-{test.Number}-{Random.Shared.Next(100_000, 999_999)}";
        await using var node = await env.Environment.StartNodeAsync(id, env.Environment.NodeSettings(id), ct).ConfigureAwait(false);
        var duration = test.Duration(env.Scale);
        var profile = new LoadProfile
        {
            Model = LoadModel.Open,
            Plan = StagePlan.Constant(test.Rate, duration),
            Connections = test.Connections,
            WarmUp = TimeSpan.FromSeconds(5),
            RequestTimeout = TimeSpan.FromSeconds(10),
        };
        var settings = new LoadRunSettings(node.BaseAddress.ToString(), profile, test.Gates.Select(Gate.Parse).ToList(),
            string.Create(CultureInfo.InvariantCulture, $"{test.Rate:0.##}/s for {duration.TotalSeconds:0}s, {test.Connections} connections"))
        {
            Flags = test.Flags.ToDictionary(f => f, _ => true, StringComparer.Ordinal),
            AdminHandle = AdminHandle,
            Log = env.Options.Progress,
        };
        var run = await LoadRunner.RunAsync(test.Scenario!(), settings, ct).ConfigureAwait(false);
        var metrics = await ScrapeAsync(node.BaseAddress, ct).ConfigureAwait(false);
        env.LoadRuns.Add(run);

        var folder = $"{test.Number:00}-{test.Name}";
        var directory = Path.Combine(env.Options.OutputDirectory, folder);
        Directory.CreateDirectory(directory);
        await File.WriteAllTextAsync(Path.Combine(directory, "summary.json"), run.ToJson(), CancellationToken.None).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(directory, "report.html"), HtmlReport.Render(run), CancellationToken.None).ConfigureAwait(false);

        var measurement = new NightlyMeasurement { Run = run, Metrics = metrics };
        var figures = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["p95 ms"] = run.Latency.P95, ["p99 ms"] = run.Latency.P99, ["req/s"] = Math.Round(run.Throughput, 1), ["error rate"] = run.ErrorRate,
        };
        if (run.Server.MemoryGrowth is { } growth) figures["memory growth"] = Math.Round(growth, 4);
        foreach (var (name, h) in run.Histograms) figures[$"{name} p99 ms"] = h.P99;
        var notes = new List<string> { $"{run.Requests:N0} requests, {run.Expected:N0} expected refusals, {run.Errors:N0} errors over {run.MeasuredSeconds:0.#} s; plan {run.Plan}" };
        if (run.StopReason is { } stop) notes.Add($"stopped early: {stop}");
        if (run.VerifyError is { } verify) notes.Add($"verification failed: {verify}");
        if (run.Counters.Count > 0) notes.Add("counters: " + string.Join(", ", run.Counters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => $"{p.Key} {p.Value:N0}")));
        return Base(test, env.Scale) with
        {
            Criteria = NightlyJudge.Gates(run).Concat(test.Extra?.Invoke(measurement) ?? []).ToList(),
            Figures = figures,
            Notes = notes,
            RunReport = $"{folder}/report.html",
        };
    }

    private static async Task<NightlyTestResult> RunChaosAsync(NightlyEnvironment env, NightlyTest test, CancellationToken ct)
    {
        var scenario = (FaultedScenario)(ChaosCatalog.Find(test.ChaosScenario!) ?? throw new InvalidOperationException($"no chaos scenario {test.ChaosScenario}"));
        WatchedFault? watch = null;
        var read = new Dictionary<string, double>(StringComparer.Ordinal);
        var watched = scenario.With(null, (run, fault) => watch = new WatchedFault(fault, run.Nodes, test.AfterInject?.Invoke(env, run, read)));
        var result = await watched.RunAsync(env.Environment, ct).ConfigureAwait(false);
        if (watch is not null) await watch.Completion.WaitAsync(TimeSpan.FromMinutes(1), ct).ConfigureAwait(false);
        var measurement = new NightlyMeasurement { Chaos = result, Watch = watch, Read = read };
        var figures = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            ["success during fault"] = Math.Round(result.SuccessRateDuringFault, 4),
            ["p95 during fault ms"] = result.P95DuringFaultMs,
        };
        if (result.RecoverySeconds is { } recovery) figures["recovery s"] = recovery;
        return Base(test, env.Scale) with
        {
            Criteria = NightlyJudge.Chaos(result).Concat(test.Extra?.Invoke(measurement) ?? []).ToList(),
            Figures = figures,
            Notes = [.. result.Describe().Split(System.Environment.NewLine).Skip(1).Select(l => l.Trim())],
        };
    }

    /// <summary>Test 15: records each load run with <c>parley baseline</c>'s store and compares the newest 3 runs of its scenario with their last 7.</summary>
    private static NightlyTestResult RunBaseline(NightlyEnvironment env, NightlyTest test, List<RunComparison> comparisons)
    {
        var store = new BaselineStore(env.Options.BaselineDirectory);
        var scenarios = new List<(string, IReadOnlyList<RunComparison>)>();
        foreach (var run in env.LoadRuns)
        {
            store.Record(run);
            var history = store.Load(run.Scenario).Where(h => h.Plan == run.Plan).ToList();
            var recent = BaselineComparison.Recent(history, run.Scenario, 3);
            File.WriteAllText(Path.Combine(store.Directory, run.Scenario, "trend.svg"), BaselineStore.TrendChart(run.Scenario, history));
            scenarios.Add((run.Scenario, recent));
            if (recent.Count > 0) comparisons.Add(recent[0]);
        }
        return Base(test, env.Scale) with
        {
            Criteria = [NightlyJudge.Above("load runs recorded in the baseline store", env.LoadRuns.Count, 0), .. NightlyJudge.Baseline(scenarios)],
            Notes = [$"baselines: {store.Directory}"],
        };
    }

    private static async Task<IReadOnlyDictionary<string, double>> ScrapeAsync(Uri node, CancellationToken ct)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(new Uri(node, "/metrics"), ct).ConfigureAwait(false);
        return MetricsReading.Totals(text);
    }
}
