using System.Globalization;
using Parley.Kit.Load.Engine;
using YamlDotNet.Core;
using YamlDotNet.Serialization;
using YamlDotNet.Serialization.NamingConventions;

namespace Parley.Kit.Canary;

/// <summary>A plan file that cannot be run: <c>parley canary run</c> exits 2 with this message.</summary>
public sealed class CanaryPlanException(string message) : Exception(message);

/// <summary>One stage: the flag on for <see cref="Percent"/>% of users, held for <see cref="Hold"/> of passing checks.</summary>
public sealed record CanaryStage(int Percent, TimeSpan Hold);

/// <summary>
/// The rollback criteria of CANARY.md; every default is the one the contract shows. Relative criteria compare the canary
/// (variant <c>on</c>) with the control (<c>off</c>) of the same interval.
/// </summary>
public sealed record CanaryCriteria
{
    /// <summary>Fails when the canary's p95 is above the SLO's by more than this fraction. Default 0.20.</summary>
    public double LatencyP95OverSlo { get; init; } = 0.20;

    /// <summary>Mann-Whitney U (one-sided, canary slower) at this confidence. Default 0.95.</summary>
    public double Confidence { get; init; } = 0.95;

    /// <summary>The smallest median increase (fraction of the control's) that may fail a check. Default 0.25.</summary>
    public double MinEffect { get; init; } = 0.25;

    /// <summary>Fails when the canary's error rate exceeds the control's by more than this fraction. Default 0.20.</summary>
    public double ErrorRateIncrease { get; init; } = 0.20;

    /// <summary>
    /// The error rate difference (absolute) below which no check fails, so one error against a clean control is not
    /// "infinitely worse". Default 0.001 (0.1 percentage point).
    /// </summary>
    public double ErrorRateFloor { get; init; } = 0.001;

    /// <summary>Fails when the canary's mean pool queue wait exceeds the control's by more than this fraction. Default 0.50.</summary>
    public double QueueWaitIncrease { get; init; } = 0.50;

    /// <summary>Queue wait differences below this never fail (waits of microseconds are noise). Default 1 ms.</summary>
    public TimeSpan QueueWaitFloor { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Fails when any node's pool saturation (Npgsql or PgBouncer) is above this. Default 0.85.</summary>
    public double PoolSaturation { get; init; } = 0.85;

    /// <summary>Fails when a breaker of <see cref="Breakers"/> is open on any node, or opened during the interval. Default true.</summary>
    public bool BreakerOpen { get; init; } = true;

    /// <summary>Which breakers <see cref="BreakerOpen"/> watches: <c>replica</c>, <c>cache</c>. Default both.</summary>
    public IReadOnlyList<string> Breakers { get; init; } = AllBreakers;

    public static readonly IReadOnlyList<string> AllBreakers = ["replica", "cache"];
}

/// <summary>A canary plan (CANARY.md's plan file), validated.</summary>
public sealed record CanaryPlan(string Flag, IReadOnlyList<CanaryStage> Stages, TimeSpan Interval, int MinSamples, TimeSpan MaxHold,
    CanaryCriteria Criteria, TimeSpan SloP95)
{
    /// <summary>Node base URLs from the plan (<c>nodes: [http://127.0.0.1:5000, ...]</c>); <c>--url</c> adds more.</summary>
    public IReadOnlyList<string> Nodes { get; init; } = [];

    /// <summary>A Prometheus server to read the figures from (<c>prometheus: {url: http://127.0.0.1:9090, match: 'job="parley"'}</c>); <c>--prometheus</c> overrides it.</summary>
    public Uri? PrometheusUrl { get; init; }

    /// <summary>Label matchers added to every Prometheus query (the plan's <c>prometheus.match</c>).</summary>
    public string? PrometheusMatch { get; init; }

    public static CanaryPlan Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CanaryPlanException($"cannot read the plan {path}: {e.Message}");
        }
        return Parse(text);
    }

    public static CanaryPlan Parse(string yaml)
    {
        PlanFile file;
        try
        {
            file = new DeserializerBuilder().WithNamingConvention(CamelCaseNamingConvention.Instance).Build().Deserialize<PlanFile>(yaml)
                ?? throw new CanaryPlanException("the plan is empty.");
        }
        catch (YamlException e)
        {
            throw new CanaryPlanException($"the plan is not valid YAML for a canary (line {e.Start.Line}): {(e.InnerException ?? e).Message}");
        }
        if (string.IsNullOrWhiteSpace(file.Flag)) throw new CanaryPlanException("flag: name the flag to ramp.");
        if (file.Stages is not { Count: > 0 }) throw new CanaryPlanException("stages: give at least one {percent, hold}.");
        var stages = new List<CanaryStage>();
        foreach (var stage in file.Stages)
        {
            if (stage.Percent is not (>= 1 and <= 100)) throw new CanaryPlanException($"stages: percent {stage.Percent} is not 1-100.");
            if (stages.Count > 0 && stage.Percent <= stages[^1].Percent) throw new CanaryPlanException("stages: percentages must increase.");
            stages.Add(new CanaryStage(stage.Percent!.Value, Duration(stage.Hold, "stages.hold", TimeSpan.FromMinutes(1))));
        }
        var interval = Duration(file.Interval, "interval", TimeSpan.FromSeconds(30));
        if (interval < TimeSpan.FromSeconds(1)) throw new CanaryPlanException("interval: at least 1s.");
        if (file.MinSamples is < 1) throw new CanaryPlanException("minSamples: at least 1.");
        var c = file.Criteria ?? new CriteriaFile();
        var defaults = new CanaryCriteria();
        var criteria = new CanaryCriteria
        {
            LatencyP95OverSlo = Fraction(c.LatencyP95OverSlo, "criteria.latencyP95OverSlo", defaults.LatencyP95OverSlo),
            Confidence = Fraction(c.LatencyIncrease?.Confidence, "criteria.latencyIncrease.confidence", defaults.Confidence),
            MinEffect = Fraction(c.LatencyIncrease?.MinEffect, "criteria.latencyIncrease.minEffect", defaults.MinEffect),
            ErrorRateIncrease = Fraction(c.ErrorRateIncrease, "criteria.errorRateIncrease", defaults.ErrorRateIncrease),
            ErrorRateFloor = Fraction(c.ErrorRateFloor, "criteria.errorRateFloor", defaults.ErrorRateFloor),
            QueueWaitIncrease = Fraction(c.QueueWaitIncrease, "criteria.queueWaitIncrease", defaults.QueueWaitIncrease),
            QueueWaitFloor = Duration(c.QueueWaitFloor, "criteria.queueWaitFloor", defaults.QueueWaitFloor),
            PoolSaturation = Fraction(c.PoolSaturation, "criteria.poolSaturation", defaults.PoolSaturation),
            BreakerOpen = c.BreakerOpen ?? defaults.BreakerOpen,
            Breakers = c.Breakers ?? defaults.Breakers,
        };
        if (criteria.Breakers.FirstOrDefault(b => !CanaryCriteria.AllBreakers.Contains(b)) is { } unknown)
            throw new CanaryPlanException($"criteria.breakers: '{unknown}' is not a breaker; use {string.Join(", ", CanaryCriteria.AllBreakers)}.");
        if (c.LatencyIncrease?.Test is { } test && test != "mann-whitney")
            throw new CanaryPlanException($"criteria.latencyIncrease.test: '{test}' is not known; use mann-whitney.");
        if (criteria.Confidence is <= 0 or >= 1) throw new CanaryPlanException("criteria.latencyIncrease.confidence: between 0 and 1, e.g. 0.95.");
        Uri? prometheus = null;
        if (file.Prometheus is { } p
            && (!Uri.TryCreate(p.Url, UriKind.Absolute, out prometheus) || prometheus.Scheme is not ("http" or "https")))
            throw new CanaryPlanException($"prometheus.url: '{p.Url}' is not an http:// URL of a Prometheus server.");
        return new CanaryPlan(file.Flag.Trim(), stages, interval, file.MinSamples ?? 200, Duration(file.MaxHold, "maxHold", TimeSpan.FromMinutes(10)),
            criteria, Duration(file.Slo?.P95, "slo.p95", TimeSpan.FromMilliseconds(50)))
        {
            Nodes = file.Nodes ?? [],
            PrometheusUrl = prometheus,
            PrometheusMatch = file.Prometheus?.Match,
        };
    }

    private static TimeSpan Duration(string? text, string field, TimeSpan fallback) =>
        text is null ? fallback
        : Durations.TryParse(text, out var value) && value > TimeSpan.Zero ? value
        : throw new CanaryPlanException($"{field}: '{text}' is not a duration (e.g. 500ms, 30s, 2m).");

    /// <summary>"20%" → 0.2; a plain number is taken as it is (0.85).</summary>
    private static double Fraction(string? text, string field, double fallback)
    {
        if (text is null) return fallback;
        var t = text.Trim();
        var percent = t.EndsWith('%');
        if (!double.TryParse(percent ? t[..^1] : t, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
            throw new CanaryPlanException($"{field}: '{text}' is not a number or a percentage (e.g. 20%, 0.85).");
        return percent ? value / 100 : value;
    }

    // The file as written; YamlDotNet fills these by name (camelCase).
    private sealed class PlanFile
    {
        public string? Flag { get; set; }
        public List<StageFile>? Stages { get; set; }
        public string? Interval { get; set; }
        public int? MinSamples { get; set; }
        public string? MaxHold { get; set; }
        public CriteriaFile? Criteria { get; set; }
        public SloFile? Slo { get; set; }
        public List<string>? Nodes { get; set; }
        public PrometheusFile? Prometheus { get; set; }
    }

    private sealed class PrometheusFile
    {
        public string? Url { get; set; }
        public string? Match { get; set; }
    }

    private sealed class StageFile
    {
        public int? Percent { get; set; }
        public string? Hold { get; set; }
    }

    private sealed class CriteriaFile
    {
        public string? LatencyP95OverSlo { get; set; }
        public LatencyTestFile? LatencyIncrease { get; set; }
        public string? ErrorRateIncrease { get; set; }
        public string? ErrorRateFloor { get; set; }
        public string? QueueWaitIncrease { get; set; }
        public string? QueueWaitFloor { get; set; }
        public string? PoolSaturation { get; set; }
        public bool? BreakerOpen { get; set; }
        public List<string>? Breakers { get; set; }
    }

    private sealed class LatencyTestFile
    {
        public string? Test { get; set; }
        public string? Confidence { get; set; }
        public string? MinEffect { get; set; }
    }

    private sealed class SloFile
    {
        public string? P95 { get; set; }
    }
}
