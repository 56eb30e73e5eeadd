using System.Globalization;
using System.Text.Json;
using Parley.Data;
using Parley.Data.Flags;
using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Scenarios;

namespace Parley.Kit.Canary;

/// <summary>How a run ended; <see cref="CanaryRun.ExitCode"/> maps it to CANARY.md's exit codes.</summary>
public enum CanaryOutcome
{
    Promoted,
    RolledBack,
    Held,
    Interrupted,
}

/// <summary>Where a canary run goes and what it reports to.</summary>
public sealed record CanarySettings(IReadOnlyList<Uri> Nodes, string PrimaryConnectionString, string ResultsDirectory)
{
    /// <summary>The live line, one per check (stage, percentage, samples per variant, each criterion's verdict).</summary>
    public Action<string>? OnLine { get; init; }

    /// <summary>Called after each check (tests wait on it).</summary>
    public Action<CanaryCheck>? OnCheck { get; init; }

    /// <summary>A file rewritten at each check with the run's state, for <c>parley canary status</c>; none when null.</summary>
    public string? StatusFile { get; init; }

    /// <summary>A <c>parley load</c> scenario driven at <see cref="LoadRate"/> req/s for the whole run; none when null.</summary>
    public string? LoadScenario { get; init; }

    public double LoadRate { get; init; } = 100;

    /// <summary>How long the load's setup (seeding) may take before the first stage. Default 10 min.</summary>
    public TimeSpan LoadSetupTimeout { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A Prometheus server (its base URL, loopback) to read the figures from instead of scraping <see cref="Nodes"/>
    /// (which then only receive the <see cref="LoadScenario"/>); null: scrape the nodes.
    /// </summary>
    public Uri? Prometheus { get; init; }

    /// <summary>Label matchers added to every Prometheus query, e.g. <c>job="parley"</c>; null: every target.</summary>
    public string? PrometheusMatch { get; init; }

    /// <summary>Per-scrape timeout of a node's /metrics (or of a Prometheus query). Default 5 s.</summary>
    public TimeSpan ScrapeTimeout { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>One check: when, in which stage (1-based, as <see cref="StageRecord.Stage"/>), both variants' figures and every criterion's decision.</summary>
public sealed record CanaryCheck(int Number, DateTimeOffset At, int Stage, int Percent, string Decision, long CanarySamples, long ControlSamples,
    double CanaryP50Ms, double CanaryP95Ms, double ControlP50Ms, double ControlP95Ms, double CanaryErrorRate, double ControlErrorRate,
    IReadOnlyList<CriterionResult> Criteria, IReadOnlyList<string> ScrapeErrors);

/// <summary>A stage as it ran.</summary>
public sealed record StageRecord(int Stage, int Percent, DateTimeOffset StartedAt, DateTimeOffset? EndedAt, string Result);

/// <summary>summary.json: the run's plan, stages, checks and end.</summary>
public sealed record CanarySummary(string Flag, DateTimeOffset StartedAt, DateTimeOffset EndedAt, string Outcome, int ExitCode, string Reason,
    int FinalPercentage, bool FinalEnabled, int? PreviousPercentage, bool? PreviousEnabled, DateTimeOffset? RolledBackAt,
    IReadOnlyList<StageRecord> Stages, IReadOnlyList<CanaryCheck> Checks, string Plan)
{
    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new System.Text.Json.Serialization.JsonStringEnumConverter(JsonNamingPolicy.CamelCase) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);
}

/// <summary>
/// <c>parley canary run</c>: sets the flag's percentage stage by stage, scrapes every node's <c>/metrics</c> once per
/// interval, judges the interval's canary against its control (<see cref="CanaryJudge"/>) and rolls back (percentage 0)
/// at the first failing check. A stage passes after <c>hold</c> worth of passing checks; inconclusive checks hold it,
/// and <c>maxHold</c> of them in a row end the run at the last safe percentage. Cancellation puts the flag back as it was.
/// </summary>
public sealed class CanaryRun(CanaryPlan plan, CanarySettings settings)
{
    public static int ExitCode(CanaryOutcome outcome) => outcome switch
    {
        CanaryOutcome.Promoted => 0,
        CanaryOutcome.RolledBack => 8,
        CanaryOutcome.Held => 9,
        _ => 130,
    };

    private readonly List<CanaryCheck> _checks = [];
    private readonly List<StageRecord> _stages = [];

    public async Task<CanarySummary> RunAsync(CancellationToken ct)
    {
        foreach (var node in settings.Nodes) LoopbackGuard.Ensure(node.ToString());
        if (settings.Prometheus is { } prometheus) LoopbackGuard.Ensure(prometheus.ToString());
        var startedAt = DateTimeOffset.UtcNow;
        Directory.CreateDirectory(settings.ResultsDirectory);
        await using var db = new ParleyDatabase(DataOptions.ForTool(settings.PrimaryConnectionString));
        var flags = new FeatureFlags(db);
        await flags.ReloadAsync(ct).ConfigureAwait(false);
        var previous = flags.All.FirstOrDefault(f => f.Name == plan.Flag);
        using var http = new HttpClient { Timeout = settings.ScrapeTimeout };
        IMetricsSource source = settings.Prometheus is { } url
            ? new PrometheusMetricsSource(http, url, plan.Flag, settings.PrometheusMatch)
            : new NodeMetricsSource(http, settings.Nodes, plan.Flag);
        using var loadStop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var loadRunning = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var load = StartLoad(loadRunning, loadStop.Token);
        var safe = 0;
        var current = -1;
        var stageStart = startedAt;
        var outcome = CanaryOutcome.Interrupted;
        var reason = "interrupted";
        DateTimeOffset? rolledBackAt = null;
        try
        {
            await WaitForLoadAsync(loadRunning.Task, load, ct).ConfigureAwait(false);
            var (last, stillOpen) = await WaitForClosedBreakersAsync(source, ct).ConfigureAwait(false);
            (outcome, reason) = (CanaryOutcome.Promoted, $"promoted to {plan.Stages[^1].Percent}%");
            if (stillOpen.Count > 0)
            {
                await flags.SetAsync(plan.Flag, true, 0, CancellationToken.None).ConfigureAwait(false);
                (outcome, reason) = (CanaryOutcome.Held, string.Create(CultureInfo.InvariantCulture,
                    $"held: {string.Join(", ", stillOpen)} still not closed {plan.MaxHold.TotalSeconds:0} s (maxHold) before the first stage; flag left at 0%"));
            }
            for (var i = 0; i < plan.Stages.Count && outcome == CanaryOutcome.Promoted; i++)
            {
                var stage = plan.Stages[i];
                (current, stageStart) = (i, DateTimeOffset.UtcNow);
                await flags.SetAsync(plan.Flag, true, stage.Percent, ct).ConfigureAwait(false);
                await WriteStatusAsync(i, stage.Percent, "running", _checks.LastOrDefault()).ConfigureAwait(false);
                var required = Math.Max(1, (int)Math.Ceiling(stage.Hold / plan.Interval - 1e-9));
                var passed = 0;
                var heldSince = stageStart;
                string result = "passed";
                while (passed < required)
                {
                    await Task.Delay(plan.Interval, ct).ConfigureAwait(false);
                    var now = await source.ReadAsync(ct).ConfigureAwait(false);
                    var figures = IntervalFigures.Between(last.Nodes, now.Nodes, now.Errors);
                    last = now;
                    var criteria = CanaryJudge.Judge(plan, figures, hasControl: stage.Percent < 100);
                    var decision = CanaryJudge.Decide(criteria);
                    var check = Record(i, stage.Percent, decision, figures, criteria);
                    if (decision == Verdict.Fail)
                    {
                        await flags.SetAsync(plan.Flag, true, 0, CancellationToken.None).ConfigureAwait(false);
                        rolledBackAt = DateTimeOffset.UtcNow;
                        reason = "rolled back: " + string.Join("; ", criteria.Where(c => c.Verdict == Verdict.Fail).Select(c => $"{c.Name} failed ({c.Detail})"));
                        (outcome, result) = (CanaryOutcome.RolledBack, "rolled back");
                        break;
                    }
                    if (decision == Verdict.Pass)
                    {
                        passed++;
                        heldSince = check.At;
                    }
                    else if (check.At - heldSince >= plan.MaxHold)
                    {
                        await flags.SetAsync(plan.Flag, true, safe, CancellationToken.None).ConfigureAwait(false);
                        reason = string.Create(CultureInfo.InvariantCulture,
                            $"held: stage {i + 1} ({stage.Percent}%) had no conclusive check for {(check.At - heldSince).TotalSeconds:0} s (too little data or a degraded control) (maxHold {plan.MaxHold.TotalSeconds:0} s); flag left at {safe}%");
                        (outcome, result) = (CanaryOutcome.Held, "held too long");
                        break;
                    }
                    await WriteStatusAsync(i, stage.Percent, "running", check).ConfigureAwait(false);
                }
                _stages.Add(new StageRecord(i + 1, stage.Percent, stageStart, DateTimeOffset.UtcNow, result));
                if (result == "passed") safe = stage.Percent;
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C: the flag goes back to its state before the run (a flag that did not exist is left off).
            await flags.SetAsync(plan.Flag, previous?.Enabled ?? false, previous?.Percentage ?? 100, CancellationToken.None).ConfigureAwait(false);
            (outcome, reason) = (CanaryOutcome.Interrupted, $"interrupted: flag restored to {(previous?.Enabled ?? false ? "on" : "off")} at {previous?.Percentage ?? 100}%");
            if (current >= 0 && _stages.Count == current)
                _stages.Add(new StageRecord(current + 1, plan.Stages[current].Percent, stageStart, DateTimeOffset.UtcNow, "interrupted"));
        }
        finally
        {
            await loadStop.CancelAsync().ConfigureAwait(false);
            await load.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        await flags.ReloadAsync(CancellationToken.None).ConfigureAwait(false);
        var final = flags.All.FirstOrDefault(f => f.Name == plan.Flag);
        var summary = new CanarySummary(plan.Flag, startedAt, DateTimeOffset.UtcNow, outcome.ToString().ToLowerInvariant(), ExitCode(outcome), reason,
            final?.Percentage ?? 0, final?.Enabled ?? false, previous?.Percentage, previous?.Enabled, rolledBackAt, _stages, _checks, Describe(plan));
        await File.WriteAllTextAsync(Path.Combine(settings.ResultsDirectory, "summary.json"), summary.ToJson(), CancellationToken.None).ConfigureAwait(false);
        await File.WriteAllTextAsync(Path.Combine(settings.ResultsDirectory, "report.html"), CanaryReport.Render(summary), CancellationToken.None).ConfigureAwait(false);
        await WriteStatusAsync(_stages.Count - 1, final?.Percentage ?? 0, summary.Outcome, _checks.LastOrDefault()).ConfigureAwait(false);
        settings.OnLine?.Invoke(reason);
        return summary;
    }

    private CanaryCheck Record(int stage, int percent, Verdict decision, IntervalFigures f, IReadOnlyList<CriterionResult> criteria)
    {
        static double Ms(double s) => Math.Round(s * 1000, 2);
        var check = new CanaryCheck(_checks.Count + 1, DateTimeOffset.UtcNow, stage + 1, percent, CriterionResult.Text(decision),
            f.Canary.Requests, f.Control.Requests, Ms(f.Canary.Latency.Quantile(0.5)), Ms(f.Canary.Latency.Quantile(0.95)),
            Ms(f.Control.Latency.Quantile(0.5)), Ms(f.Control.Latency.Quantile(0.95)), f.Canary.ErrorRate, f.Control.ErrorRate, criteria, f.ScrapeErrors);
        _checks.Add(check);
        settings.OnLine?.Invoke(string.Create(CultureInfo.InvariantCulture,
            $"check {check.Number} stage {stage + 1}/{plan.Stages.Count} {percent}%: samples on={check.CanarySamples} off={check.ControlSamples} "
            + $"p95 on={check.CanaryP95Ms:0.#} off={check.ControlP95Ms:0.#} ms → {check.Decision} | ")
            + string.Join(" ", criteria.Select(c => $"{c.Name}={c.VerdictText}"))
            + (f.ScrapeErrors.Count > 0 ? $" | scrape errors: {string.Join("; ", f.ScrapeErrors)}" : ""));
        settings.OnCheck?.Invoke(check);
        return check;
    }

    private static readonly TimeSpan BreakerPoll = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The first stage starts only once no watched breaker is open on any node (Flagger's pre-rollout check): a replica
    /// still replaying the load's seeding is isolated (lag over the bound) and slow, and judged at once it rolled healthy
    /// canaries back for breakerOpen, fallbacks and latency that the flag did not cause (issue 12). Bounded by
    /// <c>maxHold</c>; returns the scrape the first interval starts from, and the breakers still open if it ran out.
    /// </summary>
    private async Task<(MetricsReading Reading, IReadOnlyList<string> Open)> WaitForClosedBreakersAsync(IMetricsSource source, CancellationToken ct)
    {
        var since = DateTimeOffset.UtcNow;
        for (var announced = false; ; announced = true)
        {
            var reading = await source.ReadAsync(ct).ConfigureAwait(false);
            var open = plan.Criteria.BreakerOpen
                ? CanaryJudge.Watched(plan.Criteria, reading.Nodes.Values.SelectMany(s => s.OpenBreakers)).Distinct().ToList()
                : [];
            if (open.Count == 0 || DateTimeOffset.UtcNow - since >= plan.MaxHold) return (reading, open);
            if (!announced) settings.OnLine?.Invoke($"waiting for {string.Join(", ", open)} to close before the first stage ...");
            await Task.Delay(BreakerPoll, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// The first stage starts once the load runs (its first progress tick), so the scenario's seeding, which fills the
    /// primary's pool, is not judged as the canary's doing. Bounded by <see cref="CanarySettings.LoadSetupTimeout"/>.
    /// </summary>
    private async Task WaitForLoadAsync(Task running, Task load, CancellationToken ct)
    {
        if (settings.LoadScenario is null) return;
        settings.OnLine?.Invoke($"load {settings.LoadScenario} at {settings.LoadRate:0.##} req/s: setting up ...");
        var first = await Task.WhenAny(running, load).WaitAsync(settings.LoadSetupTimeout, ct).ConfigureAwait(false);
        if (first != running) throw new InvalidOperationException($"the load {settings.LoadScenario} ended before it ran.");
    }

    private Task StartLoad(TaskCompletionSource running, CancellationToken ct)
    {
        if (settings.LoadScenario is null) return Task.CompletedTask;
        var scenario = ScenarioCatalog.Create(settings.LoadScenario);
        var profile = new LoadProfile
        {
            Model = LoadModel.Open,
            Plan = StagePlan.Constant(settings.LoadRate, TimeSpan.FromDays(1)),
            Connections = Math.Clamp((int)settings.LoadRate, 8, 256),
            WarmUp = TimeSpan.Zero,
        };
        var run = new LoadRunSettings(settings.Nodes[0].ToString(), profile, [], $"{settings.LoadRate:0.##} req/s for the canary run")
        {
            OnProgress = _ => running.TrySetResult(),
        };
        return Task.Run(async () =>
        {
            try
            {
                await LoadRunner.RunAsync(scenario, run, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (!ct.IsCancellationRequested)
            {
                settings.OnLine?.Invoke($"load {settings.LoadScenario} stopped: {e.Message}");
            }
        }, CancellationToken.None);
    }

    private async Task WriteStatusAsync(int stage, int percent, string state, CanaryCheck? check)
    {
        if (settings.StatusFile is null) return;
        var status = new CanaryStatus(Environment.ProcessId, plan.Flag, state, stage + 1, plan.Stages.Count, percent, settings.ResultsDirectory, check);
        var temp = settings.StatusFile + ".tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(temp))!);
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(status, CanarySummary.Json), CancellationToken.None).ConfigureAwait(false);
        File.Move(temp, settings.StatusFile, overwrite: true);
    }

    private static string Describe(CanaryPlan p) => string.Create(CultureInfo.InvariantCulture,
        $"{p.Flag}: {string.Join(" → ", p.Stages.Select(s => $"{s.Percent}% for {s.Hold.TotalSeconds:0}s"))}, check every {p.Interval.TotalSeconds:0.#}s, "
        + $"minSamples {p.MinSamples}, maxHold {p.MaxHold.TotalSeconds:0}s, SLO p95 {p.SloP95.TotalMilliseconds:0} ms");
}

/// <summary>What <c>parley canary status</c> shows: the run's process, stage, percentage and its last check.</summary>
public sealed record CanaryStatus(int Pid, string Flag, string State, int Stage, int Stages, int Percent, string ResultsDirectory, CanaryCheck? LastCheck);
