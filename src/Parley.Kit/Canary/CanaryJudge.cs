using System.Globalization;

namespace Parley.Kit.Canary;

/// <summary>One criterion's decision in one check, with the figures it was decided on (for the live line and the report).</summary>
public sealed record CriterionResult(string Name, Verdict Verdict, double? Canary, double? Control, double? Threshold, string Detail)
{
    public string VerdictText => Text(Verdict);

    public static string Text(Verdict verdict) => verdict switch
    {
        Verdict.Pass => "pass",
        Verdict.Fail => "fail",
        Verdict.Inconclusive => "inconclusive",
        _ => "n/a",
    };
}

/// <summary>
/// Applies the plan's criteria to one interval. Comparative criteria (latency rank test, error rate, queue wait) need
/// <see cref="CanaryPlan.MinSamples"/> in both variants; at 100% there is no control, so they are not applicable and the
/// absolute ones (p95 against the SLO, saturation, breakers) decide. The check fails if any criterion fails, is
/// inconclusive (holds) if any is inconclusive and none fails, else passes.
/// When the control itself is over the SLO limit in the interval, the whole system was degraded (a stall of the machine or
/// a shared dependency) and a failure cannot be laid at the canary's door: every failing criterion is then inconclusive,
/// so the stage holds (up to <c>maxHold</c>) instead of rolling back. On a CPU-starved node a stall turned a healthy
/// canary's replica reads into 1 s timeouts and fallbacks and isolated the replica breaker, while the control's reads,
/// which have no such timeout, were merely slow (issue 12).
/// </summary>
public static class CanaryJudge
{
    public const string LatencyP95OverSlo = "latencyP95OverSlo";
    public const string LatencyIncrease = "latencyIncrease";
    public const string ErrorRateIncrease = "errorRateIncrease";
    public const string QueueWaitIncrease = "queueWaitIncrease";
    public const string PoolSaturation = "poolSaturation";
    public const string BreakerOpen = "breakerOpen";

    public static IReadOnlyList<CriterionResult> Judge(CanaryPlan plan, IntervalFigures f, bool hasControl)
    {
        var c = plan.Criteria;
        var min = plan.MinSamples;
        var canary = f.Canary;
        var control = f.Control;
        var enoughCanary = canary.Requests >= min;
        var enoughBoth = enoughCanary && control.Requests >= min;
        var results = new List<CriterionResult>();

        var p95 = canary.Latency.Quantile(0.95);
        var sloLimit = plan.SloP95.TotalSeconds * (1 + c.LatencyP95OverSlo);
        results.Add(new(LatencyP95OverSlo, !enoughCanary ? Verdict.Inconclusive : p95 > sloLimit ? Verdict.Fail : Verdict.Pass,
            Ms(p95), Ms(control.Latency.Quantile(0.95)), Ms(sloLimit), $"canary p95 {Ms(p95):0.#} ms, limit {Ms(sloLimit):0.#} ms"));

        if (!hasControl)
        {
            results.Add(new(LatencyIncrease, Verdict.NotApplicable, null, null, null, "no control at 100%"));
            results.Add(new(ErrorRateIncrease, Verdict.NotApplicable, canary.ErrorRate, null, null, "no control at 100%"));
            results.Add(new(QueueWaitIncrease, Verdict.NotApplicable, Ms(canary.MeanPoolWait), null, null, "no control at 100%"));
        }
        else
        {
            var mw = MannWhitney.Compare(canary.Latency, control.Latency, c.Confidence, c.MinEffect, min);
            results.Add(new(LatencyIncrease, mw.Verdict, Ms(mw.CanaryMedian), Ms(mw.ControlMedian), c.MinEffect, string.Create(CultureInfo.InvariantCulture,
                $"U={mw.U:0.#} z={mw.Z:0.00} p={mw.PValue:0.####} median {Ms(mw.CanaryMedian):0.##} vs {Ms(mw.ControlMedian):0.##} ms (effect {mw.Effect:+0%;-0%;0%}, min {c.MinEffect:0%})")));

            var errorLimit = Math.Max(control.ErrorRate * (1 + c.ErrorRateIncrease), control.ErrorRate + c.ErrorRateFloor);
            results.Add(new(ErrorRateIncrease, !enoughBoth ? Verdict.Inconclusive : canary.ErrorRate > errorLimit ? Verdict.Fail : Verdict.Pass,
                canary.ErrorRate, control.ErrorRate, errorLimit, string.Create(CultureInfo.InvariantCulture,
                    $"errors {canary.Errors}/{canary.Requests} ({canary.ErrorRate:0.##%}) vs {control.Errors}/{control.Requests} ({control.ErrorRate:0.##%}), limit {errorLimit:0.##%}")));

            var waitLimit = Math.Max(control.MeanPoolWait * (1 + c.QueueWaitIncrease), control.MeanPoolWait + c.QueueWaitFloor.TotalSeconds);
            results.Add(new(QueueWaitIncrease, !enoughBoth ? Verdict.Inconclusive : canary.MeanPoolWait > waitLimit ? Verdict.Fail : Verdict.Pass,
                Ms(canary.MeanPoolWait), Ms(control.MeanPoolWait), Ms(waitLimit), string.Create(CultureInfo.InvariantCulture,
                    $"mean pool wait {Ms(canary.MeanPoolWait):0.###} vs {Ms(control.MeanPoolWait):0.###} ms, limit {Ms(waitLimit):0.###} ms")));
        }

        results.Add(new(PoolSaturation, f.NodesScraped == 0 ? Verdict.Inconclusive : f.PoolSaturation > c.PoolSaturation ? Verdict.Fail : Verdict.Pass,
            f.PoolSaturation, null, c.PoolSaturation, string.Create(CultureInfo.InvariantCulture,
                $"highest {f.PoolSaturation:0.##}{(f.SaturatedPool is null ? "" : $" ({f.SaturatedPool})")}, limit {c.PoolSaturation:0.##}")));

        if (c.BreakerOpen)
        {
            // Only the replica's openings are counted. One that closed again before the scrape fails the check only if
            // canary reads failed over meanwhile: on a CPU-starved node a single lag probe over its timeout isolates the
            // replica for one probe interval, with no traffic at all (a no-traffic run rolled back for it, issue 12).
            var open = Watched(c, f.OpenBreakers).ToList();
            var openings = c.Breakers.Contains("replica") ? f.BreakerOpenings : 0;
            var opened = open.Count > 0 || (openings > 0 && canary.Errors > 0);
            results.Add(new(BreakerOpen, f.NodesScraped == 0 ? Verdict.Inconclusive : opened ? Verdict.Fail : Verdict.Pass,
                open.Count + openings, null, 0,
                opened ? $"open now: {(open.Count == 0 ? "none" : string.Join(", ", open))}; openings in the interval: {openings:0}, canary reads failed over: {canary.Errors}"
                    : openings > 0 ? $"{string.Join(", ", c.Breakers)} closed; the replica's opened {openings:0}× in the interval and closed again with no canary read failed over"
                    : $"{string.Join(", ", c.Breakers)} closed"));
        }
        var controlP95 = control.Latency.Quantile(0.95);
        if (!hasControl || control.Requests < min || controlP95 <= sloLimit) return results;
        var degraded = string.Create(CultureInfo.InvariantCulture,
            $"; control degraded too (p95 {Ms(controlP95):0.#} ms over the {Ms(sloLimit):0.#} ms limit): held, not the canary's doing");
        return results.Select(r => r.Verdict == Verdict.Fail ? r with { Verdict = Verdict.Inconclusive, Detail = r.Detail + degraded } : r).ToList();
    }

    /// <summary>The open breakers (named "replica=open", "cache=isolated") that <see cref="CanaryCriteria.Breakers"/> watches.</summary>
    public static IEnumerable<string> Watched(CanaryCriteria criteria, IEnumerable<string> open) =>
        open.Where(b => criteria.Breakers.Contains(b.Split('=')[0]));

    /// <summary>The check's decision from its criteria.</summary>
    public static Verdict Decide(IReadOnlyList<CriterionResult> criteria) =>
        criteria.Any(r => r.Verdict == Verdict.Fail) ? Verdict.Fail
        : criteria.Any(r => r.Verdict == Verdict.Inconclusive) ? Verdict.Inconclusive
        : Verdict.Pass;

    private static double Ms(double seconds) => seconds * 1000;
}
