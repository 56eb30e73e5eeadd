using MathNet.Numerics.Distributions;

namespace Parley.Kit.Canary;

/// <summary>A criterion's decision for one check.</summary>
public enum Verdict
{
    Pass,
    Fail,

    /// <summary>Too few samples to judge: holds the stage, never promotes, never fails.</summary>
    Inconclusive,

    /// <summary>The criterion cannot apply (no control at 100%).</summary>
    NotApplicable,
}

/// <summary>One bucket of a latency distribution: <see cref="Count"/> observations in (<see cref="Lower"/>, <see cref="Upper"/>].</summary>
public readonly record struct LatencyBucket(double Lower, double Upper, long Count);

/// <summary>
/// Latencies (seconds) as ordered buckets: a Prometheus histogram's (per-bucket, not cumulative) or one bucket per
/// distinct value of raw samples. Observations in one bucket are ties for the rank test; quantiles interpolate inside a bucket.
/// </summary>
public sealed class LatencyDistribution
{
    public LatencyDistribution(IEnumerable<LatencyBucket> buckets)
    {
        Buckets = buckets.Where(b => b.Count > 0).OrderBy(b => b.Upper).ToList();
        Count = Buckets.Sum(b => b.Count);
    }

    public static LatencyDistribution Empty { get; } = new([]);

    public IReadOnlyList<LatencyBucket> Buckets { get; }

    public long Count { get; }

    public static LatencyDistribution FromSamples(IEnumerable<double> seconds) =>
        new(seconds.GroupBy(s => s).Select(g => new LatencyBucket(g.Key, g.Key, g.LongCount())));

    /// <summary>The q-quantile, linear inside its bucket (the last finite bound for the +Inf bucket); NaN when empty.</summary>
    public double Quantile(double q)
    {
        if (Count == 0) return double.NaN;
        var rank = q * Count;
        long seen = 0;
        foreach (var b in Buckets)
        {
            if (seen + b.Count >= rank)
            {
                if (double.IsPositiveInfinity(b.Upper)) return b.Lower;
                return b.Lower + (b.Upper - b.Lower) * Math.Clamp((rank - seen) / b.Count, 0, 1);
            }
            seen += b.Count;
        }
        return Buckets[^1].Upper;
    }
}

/// <summary>The rank test's figures for one check: both samples, U of the canary, z, the one-sided p, medians and effect.</summary>
public sealed record MannWhitneyResult(Verdict Verdict, long CanaryCount, long ControlCount, double U, double Z, double PValue,
    double CanaryMedian, double ControlMedian, double Effect);

/// <summary>
/// Mann-Whitney U, one-sided (is the canary slower?), by the normal approximation with tie correction and continuity
/// correction, so it runs on histogram buckets as well as on raw samples. A significant result fails only when the
/// canary's median is also at least <c>minEffect</c> above the control's: a real but trivial slowdown passes.
/// </summary>
public static class MannWhitney
{
    public static MannWhitneyResult Compare(LatencyDistribution canary, LatencyDistribution control, double confidence, double minEffect, long minSamples)
    {
        long n1 = canary.Count, n2 = control.Count;
        var canaryMedian = canary.Quantile(0.5);
        var controlMedian = control.Quantile(0.5);
        var effect = Effect(canaryMedian, controlMedian);
        if (n1 < minSamples || n2 < minSamples || n1 == 0 || n2 == 0)
            return new MannWhitneyResult(Verdict.Inconclusive, n1, n2, double.NaN, double.NaN, double.NaN, canaryMedian, controlMedian, effect);

        // Rank sum of the canary over the merged, ordered groups; a group of ties gets its mid-rank.
        var merged = new SortedDictionary<double, (long Canary, long Control)>();
        foreach (var b in canary.Buckets) merged[b.Upper] = (merged.GetValueOrDefault(b.Upper).Canary + b.Count, merged.GetValueOrDefault(b.Upper).Control);
        foreach (var b in control.Buckets) merged[b.Upper] = (merged.GetValueOrDefault(b.Upper).Canary, merged.GetValueOrDefault(b.Upper).Control + b.Count);
        double below = 0, rankSum = 0, ties = 0;
        foreach (var (a, c) in merged.Values)
        {
            double t = a + c;
            rankSum += a * (below + (t + 1) / 2);
            ties += t * t * t - t;
            below += t;
        }
        double n = n1 + n2;
        var u = rankSum - n1 * (n1 + 1.0) / 2;
        var mean = n1 * (double)n2 / 2;
        var variance = n1 * (double)n2 / 12 * (n + 1 - ties / (n * (n - 1)));
        double z = 0, p = 1;
        if (variance > 0)
        {
            z = (u - mean - 0.5) / Math.Sqrt(variance);
            p = 1 - Normal.CDF(0, 1, z);
        }
        var verdict = p < 1 - confidence && effect >= minEffect ? Verdict.Fail : Verdict.Pass;
        return new MannWhitneyResult(verdict, n1, n2, u, z, p, canaryMedian, controlMedian, effect);
    }

    private static double Effect(double canary, double control) =>
        double.IsNaN(canary) || double.IsNaN(control) ? double.NaN
        : control > 0 ? (canary - control) / control
        : canary > 0 ? double.PositiveInfinity : 0;
}
