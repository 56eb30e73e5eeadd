using System.Text.Json;
using System.Text.Json.Serialization;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Load.Reports;

/// <summary>Latency figures in milliseconds.</summary>
public sealed record LatencySummary(long Count, double P50, double P90, double P95, double P99, double P999, double Max, double Mean)
{
    public static LatencySummary Of(LatencyHistogram h)
    {
        static double Ms(double ns) => Math.Round(ns / 1e6, 3);
        return new LatencySummary(h.Count, Ms(h.ValueAtPercentile(50)), Ms(h.ValueAtPercentile(90)), Ms(h.ValueAtPercentile(95)),
            Ms(h.ValueAtPercentile(99)), Ms(h.ValueAtPercentile(99.9)), Ms(h.MaxNanoseconds), Ms(h.MeanNanoseconds));
    }
}

/// <param name="LatencyByStatus">The same latency per HTTP status (null in summaries written before it existed).</param>
public sealed record OperationSummary(
    long Requests, long Errors, IReadOnlyDictionary<string, long> Statuses, LatencySummary Latency, IReadOnlyDictionary<string, LatencySummary>? LatencyByStatus = null);

/// <summary>One second of the run (measured seconds only).</summary>
public sealed record TimelinePoint(double Second, long Requests, long Errors, double P50, double P95, double P99, double Max, double Target, double? Pool);

/// <param name="Observed">The raw value (latencies in ns, ratios as fractions).</param>
/// <param name="ObservedText">The same in the gate's unit ("6.16 s", "0.84%"), for people.</param>
public sealed record GateVerdict(string Gate, string Status, double? Observed, string Text, string? ObservedText = null);

/// <summary>Everything a run measured: written as summary.json, read back by reports and baselines.</summary>
public sealed record RunSummary
{
    public const int CurrentVersion = 1;

    public int Version { get; init; } = CurrentVersion;

    public required string Scenario { get; init; }

    public required DateTimeOffset StartedAt { get; init; }

    public required DateTimeOffset FinishedAt { get; init; }

    public required string Url { get; init; }

    public required string Model { get; init; }

    /// <summary>The plan as typed: <c>30s:100,1m:500</c>; the targets are req/s (open) or connections (closed).</summary>
    public required string Plan { get; init; }

    public required int Connections { get; init; }

    public required double WarmUpSeconds { get; init; }

    public required double MeasuredSeconds { get; init; }

    public required long Requests { get; init; }

    public required long Ok { get; init; }

    /// <summary>Refusals the scenario provoked on purpose (409 stale version, 403 not allowed): correct, not errors.</summary>
    public required long Expected { get; init; }

    public required long Errors { get; init; }

    public double ErrorRate => Requests == 0 ? 0 : (double)Errors / Requests;

    public double Throughput => MeasuredSeconds <= 0 ? 0 : Requests / MeasuredSeconds;

    public required LatencySummary Latency { get; init; }

    public required IReadOnlyDictionary<string, OperationSummary> Operations { get; init; }

    public required IReadOnlyDictionary<string, long> ErrorKinds { get; init; }

    /// <summary>Scenario histograms beside request latency (delivery, invalidation).</summary>
    public required IReadOnlyDictionary<string, LatencySummary> Histograms { get; init; }

    public required IReadOnlyDictionary<string, long> Counters { get; init; }

    public required ServerSummary Server { get; init; }

    public required IReadOnlyList<TimelinePoint> Timeline { get; init; }

    public required IReadOnlyList<GateVerdict> Gates { get; init; }

    /// <summary>Runtime flags the run set (e.g. <c>message.history.cache.enabled</c>).</summary>
    public IReadOnlyDictionary<string, bool> Flags { get; init; } = new Dictionary<string, bool>();

    /// <summary><c>pass</c>, <c>fail</c> (a gate breached) or <c>inconclusive</c> (a gate had no data).</summary>
    public required string Verdict { get; init; }

    public string? StopReason { get; init; }

    /// <summary>Why verification could not finish (its counters, e.g. <c>lost</c>, are then missing: their gates are inconclusive).</summary>
    public string? VerifyError { get; init; }

    public required string Machine { get; init; }

    /// <summary>The request latency histogram, so baselines can compare distributions.</summary>
    public required HistogramSnapshot LatencyHistogram { get; init; }

    public static JsonSerializerOptions JsonOptions { get; } = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, JsonOptions);

    public static RunSummary FromJson(string json) =>
        JsonSerializer.Deserialize<RunSummary>(json, JsonOptions) ?? throw new JsonException("empty summary");

    public static string VerdictOf(IEnumerable<GateResult> results)
    {
        var list = results.ToList();
        return list.Any(r => r.Status == GateStatus.Fail) ? "fail"
            : list.Any(r => r.Status == GateStatus.Inconclusive) ? "inconclusive"
            : "pass";
    }
}
