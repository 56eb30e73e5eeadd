using System.Globalization;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Canary;

/// <summary>
/// One node's counters for one flag at one scrape: per variant the latency histogram (cumulative, by bound), request
/// counts by outcome and pool queue wait; and the node-wide readings the absolute criteria use (pools, breakers).
/// </summary>
public sealed record NodeSnapshot(
    IReadOnlyDictionary<string, IReadOnlyDictionary<double, double>> Cumulative,
    IReadOnlyDictionary<string, IReadOnlyDictionary<string, double>> Outcomes,
    IReadOnlyDictionary<string, (double Sum, double Count)> PoolWait,
    IReadOnlyList<PoolReading> Pools,
    IReadOnlyList<string> OpenBreakers,
    double BreakerOpenings)
{
    public const string DurationFamily = "parley_flag_request_duration_seconds";
    public const string PoolWaitFamily = "parley_flag_pool_wait_seconds";

    /// <summary>Every series <see cref="Parse"/> reads (what a Prometheus source asks for).</summary>
    public static readonly IReadOnlyList<string> SeriesRead =
    [
        DurationFamily + "_bucket", DurationFamily + "_count", PoolWaitFamily + "_sum", PoolWaitFamily + "_count",
        "db_pool_saturation", "pgbouncer_pool_saturation", PoolBusyFamily, PoolObservedFamily,
        "parley_replica_breaker_state", "parley_cache_breaker_state", "parley_replica_breaker_transitions_total",
    ];

    // The server's time-weighted Npgsql pool saturation (NpgsqlPoolSaturation): busy / observed over a window is its mean.
    private const string PoolBusyFamily = "db_pool_saturation_seconds_total";
    private const string PoolObservedFamily = "db_pool_observed_seconds_total";

    /// <summary>The highest pool gauge at this scrape (what a node without time-weighted counters is judged on).</summary>
    public double PoolSaturation => Pools.Count == 0 ? 0 : Pools.Max(p => p.Gauge);

    public static NodeSnapshot Parse(string flag, IReadOnlyList<PrometheusSample> samples)
    {
        var cumulative = new Dictionary<string, Dictionary<double, double>>();
        var outcomes = new Dictionary<string, Dictionary<string, double>>();
        var waitSum = new Dictionary<string, double>();
        var waitCount = new Dictionary<string, double>();
        double openings = 0;
        var gauges = new List<(string Series, string? Source, double Value)>();
        var busy = new Dictionary<string, double>();
        var observed = new Dictionary<string, double>();
        var open = new List<string>();
        foreach (var s in samples)
        {
            if (s.Labels.GetValueOrDefault("flag") == flag && s.Labels.GetValueOrDefault("variant") is { } variant)
            {
                switch (s.Name)
                {
                    case DurationFamily + "_bucket" when Bound(s.Labels.GetValueOrDefault("le")) is { } le:
                        var buckets = cumulative.TryGetValue(variant, out var b) ? b : cumulative[variant] = [];
                        buckets[le] = buckets.GetValueOrDefault(le) + s.Value;
                        break;
                    case DurationFamily + "_count":
                        var byOutcome = outcomes.TryGetValue(variant, out var o) ? o : outcomes[variant] = [];
                        var outcome = s.Labels.GetValueOrDefault("outcome") ?? "ok";
                        byOutcome[outcome] = byOutcome.GetValueOrDefault(outcome) + s.Value;
                        break;
                    case PoolWaitFamily + "_sum":
                        waitSum[variant] = waitSum.GetValueOrDefault(variant) + s.Value;
                        break;
                    case PoolWaitFamily + "_count":
                        waitCount[variant] = waitCount.GetValueOrDefault(variant) + s.Value;
                        break;
                }
                continue;
            }
            switch (s.Name)
            {
                case "db_pool_saturation" or "pgbouncer_pool_saturation":
                    gauges.Add(($"{s.Name}{{{string.Join(',', s.Labels.Select(l => $"{l.Key}={l.Value}"))}}}",
                        s.Name == "db_pool_saturation" ? s.Labels.GetValueOrDefault("source") : null, s.Value));
                    break;
                case PoolBusyFamily when s.Labels.GetValueOrDefault("source") is { } source:
                    busy[source] = Math.Max(busy.GetValueOrDefault(source), s.Value);
                    break;
                case PoolObservedFamily when s.Labels.GetValueOrDefault("source") is { } source:
                    observed[source] = Math.Max(observed.GetValueOrDefault(source), s.Value);
                    break;
                // 0 closed; open, half-open and isolated (lag over the bound) all keep reads off the path.
                case "parley_replica_breaker_state" or "parley_cache_breaker_state" when s.Value != 0:
                    open.Add($"{s.Name.Replace("_breaker_state", "", StringComparison.Ordinal).Replace("parley_", "", StringComparison.Ordinal)}={StateName(s.Value)}");
                    break;
                case "parley_replica_breaker_transitions_total" when s.Labels.GetValueOrDefault("state") is "open" or "isolated":
                    openings += s.Value;
                    break;
            }
        }
        return new NodeSnapshot(
            cumulative.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<double, double>)p.Value),
            outcomes.ToDictionary(p => p.Key, p => (IReadOnlyDictionary<string, double>)p.Value),
            waitSum.Keys.Union(waitCount.Keys).ToDictionary(v => v, v => (waitSum.GetValueOrDefault(v), waitCount.GetValueOrDefault(v))),
            gauges.Select(g => new PoolReading(g.Series, g.Value,
                g.Source is { } source && busy.TryGetValue(source, out var b) && observed.TryGetValue(source, out var o) ? (b, o) : null)).ToList(),
            open, openings);
    }

    private static double? Bound(string? le) =>
        le is null ? null
        : le == "+Inf" ? double.PositiveInfinity
        : double.TryParse(le, NumberStyles.Float, CultureInfo.InvariantCulture, out var v) ? v : null;

    private static string StateName(double state) => state switch
    {
        1 => "open",
        2 => "half-open",
        3 => "isolated",
        _ => state.ToString(CultureInfo.InvariantCulture),
    };
}

/// <summary>
/// One pool's reading at one scrape: its gauge (in use / size, now) and, for Npgsql pools, the time-weighted counters
/// (saturation × seconds, seconds observed) whose increases give the mean saturation between two scrapes.
/// </summary>
public sealed record PoolReading(string Series, double Gauge, (double Busy, double Observed)? Time)
{
    /// <summary>
    /// The pool's saturation over the interval since <paramref name="before"/>: the time-weighted mean when both readings
    /// have the counters (a momentary full pool in a starved moment is not a saturated interval), else the gauge now.
    /// </summary>
    public (double Value, bool Mean) Since(PoolReading? before) =>
        Time is { } now && before?.Time is { } then && now.Observed > then.Observed && now.Busy >= then.Busy
            ? ((now.Busy - then.Busy) / (now.Observed - then.Observed), true)
            : (Gauge, false);
}

/// <summary>One variant's figures over one interval, summed over the nodes.</summary>
public sealed record VariantInterval(LatencyDistribution Latency, IReadOnlyDictionary<string, long> Outcomes, double PoolWaitSum, long PoolWaitCount)
{
    public static VariantInterval None { get; } = new(LatencyDistribution.Empty, new Dictionary<string, long>(), 0, 0);

    public long Requests => Outcomes.Values.Sum();

    /// <summary>Failed on the flagged path (answered by the fallback) or failed outright; a missing counter is zero.</summary>
    public long Errors => Outcomes.GetValueOrDefault("error") + Outcomes.GetValueOrDefault("fallback");

    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;

    /// <summary>Mean pool queue wait in seconds (0 without samples).</summary>
    public double MeanPoolWait => PoolWaitCount == 0 ? 0 : PoolWaitSum / PoolWaitCount;
}

/// <summary>
/// What one check judges: each variant's figures for the interval between two scrapes, the highest pool saturation of any
/// node (its mean over the interval where the node has the time-weighted counters, else its gauge at the end) and the
/// breakers at the end.
/// </summary>
public sealed record IntervalFigures(VariantInterval Canary, VariantInterval Control, double PoolSaturation, string? SaturatedPool,
    IReadOnlyList<string> OpenBreakers, double BreakerOpenings, int NodesScraped, IReadOnlyList<string> ScrapeErrors)
{
    /// <summary>The interval between <paramref name="before"/> and <paramref name="after"/> (by node; a node missing from <paramref name="after"/> was not read, and one missing from <paramref name="before"/> gives only its gauges).</summary>
    public static IntervalFigures Between(IReadOnlyDictionary<string, NodeSnapshot> before, IReadOnlyDictionary<string, NodeSnapshot> after, IReadOnlyList<string> scrapeErrors)
    {
        var canary = new List<VariantInterval>();
        var control = new List<VariantInterval>();
        double saturation = 0, openings = 0;
        string? saturated = null;
        var open = new List<string>();
        var scraped = 0;
        foreach (var (node, now) in after)
        {
            scraped++;
            var then = before.GetValueOrDefault(node);
            foreach (var pool in now.Pools)
            {
                var (value, mean) = pool.Since(then?.Pools.FirstOrDefault(p => p.Series == pool.Series));
                if (value > saturation || saturated is null)
                    (saturation, saturated) = (value, mean ? $"{pool.Series} mean over the interval" : pool.Series);
            }
            open.AddRange(now.OpenBreakers);
            // A node not read at the interval's start (a failed scrape, or new) has no start to count from: this reading
            // only starts its next interval. Counting from zero would judge everything since it started as this interval.
            if (then is null) continue;
            canary.Add(Delta(then, now, "on"));
            control.Add(Delta(then, now, "off"));
            openings += Increase(then.BreakerOpenings, now.BreakerOpenings);
        }
        return new IntervalFigures(Sum(canary), Sum(control), saturation, saturated, open.Distinct().ToList(), openings, scraped, scrapeErrors);
    }

    // A counter that went down was reset (the node restarted): all of its value is new.
    private static double Increase(double before, double after) => after >= before ? after - before : after;

    private static VariantInterval Delta(NodeSnapshot before, NodeSnapshot now, string variant)
    {
        var buckets = new List<LatencyBucket>();
        if (now.Cumulative.TryGetValue(variant, out var cumulative))
        {
            var previous = before.Cumulative.GetValueOrDefault(variant);
            var reset = previous is not null && cumulative.Any(b => b.Value < previous.GetValueOrDefault(b.Key));
            double lower = 0, below = 0;
            foreach (var (bound, count) in cumulative.OrderBy(b => b.Key))
            {
                var increase = count - (reset ? 0 : previous?.GetValueOrDefault(bound) ?? 0);
                buckets.Add(new LatencyBucket(lower, bound, (long)Math.Round(increase - below)));
                (lower, below) = (bound, increase);
            }
        }
        var outcomes = new Dictionary<string, long>();
        foreach (var (outcome, count) in now.Outcomes.GetValueOrDefault(variant) ?? new Dictionary<string, double>())
            outcomes[outcome] = (long)Math.Round(Increase(before.Outcomes.GetValueOrDefault(variant)?.GetValueOrDefault(outcome) ?? 0, count));
        var wait = now.PoolWait.GetValueOrDefault(variant);
        var waitBefore = before.PoolWait.GetValueOrDefault(variant);
        var waitReset = wait.Count < waitBefore.Count;
        return new VariantInterval(new LatencyDistribution(buckets), outcomes,
            waitReset ? wait.Sum : wait.Sum - waitBefore.Sum, (long)Math.Round(waitReset ? wait.Count : wait.Count - waitBefore.Count));
    }

    private static VariantInterval Sum(List<VariantInterval> parts)
    {
        if (parts.Count == 0) return VariantInterval.None;
        // Nodes share the bucket bounds, so buckets add up bound by bound.
        var buckets = parts.SelectMany(p => p.Latency.Buckets).GroupBy(b => b.Upper)
            .Select(g => new LatencyBucket(g.First().Lower, g.Key, g.Sum(b => b.Count)));
        var outcomes = parts.SelectMany(p => p.Outcomes).GroupBy(o => o.Key).ToDictionary(g => g.Key, g => g.Sum(o => o.Value));
        return new VariantInterval(new LatencyDistribution(buckets), outcomes, parts.Sum(p => p.PoolWaitSum), parts.Sum(p => p.PoolWaitCount));
    }
}
