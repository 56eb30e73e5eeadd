namespace Parley.Kit.Load.Baselines;

/// <summary>The result of a one-sided Mann-Whitney U test: is the candidate's latency stochastically larger than the baseline's?</summary>
/// <param name="U">U of the candidate sample.</param>
/// <param name="Z">Normal approximation with tie correction (no continuity correction).</param>
/// <param name="PValue">P(U at least this large | same distribution).</param>
/// <param name="Effect">U / (n1·n2): the probability that a candidate request is slower than a baseline one (0.5 = no difference).</param>
public sealed record MannWhitneyResult(double U, double Z, double PValue, double Effect);

/// <summary>
/// Mann-Whitney U on two latency histograms, treating each bucket as one tied value (exact for grouped data), with the
/// normal approximation and tie correction. With thousands of requests per run even a trivial shift is "significant",
/// so callers pair it with an effect-size or percentage rule.
/// </summary>
public static class MannWhitney
{
    public static MannWhitneyResult Greater(LatencyHistogram candidate, LatencyHistogram baseline)
    {
        ArgumentNullException.ThrowIfNull(candidate);
        ArgumentNullException.ThrowIfNull(baseline);
        double n1 = candidate.Count, n2 = baseline.Count;
        if (n1 == 0 || n2 == 0) return new MannWhitneyResult(0, 0, 1, 0.5);

        var groups = new SortedDictionary<long, (long Candidate, long Baseline)>();
        foreach (var (value, count) in candidate.Buckets())
            groups[value] = (groups.GetValueOrDefault(value).Candidate + count, groups.GetValueOrDefault(value).Baseline);
        foreach (var (value, count) in baseline.Buckets())
            groups[value] = (groups.GetValueOrDefault(value).Candidate, groups.GetValueOrDefault(value).Baseline + count);

        double rankSum = 0, below = 0, ties = 0;
        foreach (var (c, b) in groups.Values)
        {
            double t = c + b;
            var averageRank = below + (t + 1) / 2;
            rankSum += c * averageRank;
            ties += t * t * t - t;
            below += t;
        }
        var n = n1 + n2;
        var u = rankSum - n1 * (n1 + 1) / 2;
        var variance = n1 * n2 / 12 * (n + 1 - ties / (n * (n - 1)));
        var z = variance <= 0 ? 0 : (u - n1 * n2 / 2) / Math.Sqrt(variance);
        return new MannWhitneyResult(u, z, 1 - NormalCdf(z), u / (n1 * n2));
    }

    /// <summary>Φ(z) via erfc (W. J. Cody's rational approximation as in Numerical Recipes' erfcc, |error| &lt; 1.2e-7).</summary>
    internal static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    private static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + 0.5 * z);
        var r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806
            + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}
