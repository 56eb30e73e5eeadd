using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Gates;

public enum GateStatus
{
    Pass,
    Fail,

    /// <summary>No data to judge by: never a pass.</summary>
    Inconclusive,
}

/// <summary>A gate's verdict with the value it saw (latencies in ns, ratios as fractions) and, when inconclusive, why.</summary>
public sealed record GateResult(Gate Gate, GateStatus Status, double? Observed, string? Note = null)
{
    /// <summary>The observed value in the gate's own unit ("6.16 s", "0.84%"), or "no data".</summary>
    public string FormatObserved() => Observed is not { } value ? "no data"
        : Gate.Kind == GateKind.Latency ? Durations.Format(value)
        : Gate.Kind == GateKind.ErrorRate || Gate.Text.EndsWith('%') ? $"{value * 100:0.###}%"
        : $"{value:0.###}";

    public string Describe() => $"{Gate.Text}: {Status.ToString().ToUpperInvariant()} ({FormatObserved()}{(Note is null ? "" : $"; {Note}")})";
}

/// <summary>What a gate is judged on: a whole run, or a window of it.</summary>
public sealed record GateData(
    LatencyHistogram Latency,
    long Requests,
    long Errors,
    TimeSpan Measured,
    IReadOnlyDictionary<string, LatencyHistogram> Histograms,
    IReadOnlyDictionary<string, double> Values);

public static class GateEvaluator
{
    public static IReadOnlyList<GateResult> Evaluate(IEnumerable<Gate> gates, GateData data) => gates.Select(g => Evaluate(g, data)).ToList();

    public static GateResult Evaluate(Gate gate, GateData data)
    {
        switch (gate.Kind)
        {
            case GateKind.Latency:
                var histogram = gate.Histogram is null ? data.Latency : data.Histograms.GetValueOrDefault(gate.Histogram);
                if (histogram is null || histogram.Count == 0)
                    return new GateResult(gate, GateStatus.Inconclusive, null, gate.Histogram is null ? "no requests measured" : $"nothing recorded in '{gate.Histogram}'");
                double latency = gate.Percentile < 0 ? histogram.MeanNanoseconds : histogram.ValueAtPercentile(gate.Percentile);
                return Judge(gate, latency);
            case GateKind.ErrorRate:
                return data.Requests == 0
                    ? new GateResult(gate, GateStatus.Inconclusive, null, "no requests measured")
                    : Judge(gate, (double)data.Errors / data.Requests);
            case GateKind.Throughput:
                return data.Requests == 0 || data.Measured <= TimeSpan.Zero
                    ? new GateResult(gate, GateStatus.Inconclusive, null, "no requests measured")
                    : Judge(gate, data.Requests / data.Measured.TotalSeconds);
            default:
                return data.Values.TryGetValue(gate.Metric, out var value)
                    ? Judge(gate, value)
                    : new GateResult(gate, GateStatus.Inconclusive, null, $"this run has no '{gate.Metric}'");
        }
    }

    private static GateResult Judge(Gate gate, double observed) =>
        new(gate, gate.Holds(observed) ? GateStatus.Pass : GateStatus.Fail, observed);
}

/// <summary>
/// Watches request gates second by second while a run goes: a gate that failed in every one-second interval of the
/// last full window "stays breached" and stops the run early. A second without data is inconclusive and breaks the
/// streak: it neither passes nor condemns.
/// </summary>
public sealed class GateMonitor(IReadOnlyList<Gate> gates, int windowSeconds)
{
    private readonly Dictionary<Gate, int> _streaks = gates.Where(g => g.AppliesToRequests).ToDictionary(g => g, _ => 0);

    /// <summary>Feeds one interval; returns the reason to stop, or null.</summary>
    public string? Observe(LatencyHistogram latency, long requests, long errors)
    {
        var data = new GateData(latency, requests, errors, TimeSpan.FromSeconds(1), new Dictionary<string, LatencyHistogram>(), new Dictionary<string, double>());
        foreach (var gate in _streaks.Keys.ToList())
        {
            var result = GateEvaluator.Evaluate(gate, data);
            _streaks[gate] = result.Status == GateStatus.Fail ? _streaks[gate] + 1 : 0;
            if (_streaks[gate] >= windowSeconds)
                return $"gate {gate.Text} breached for {windowSeconds} s in a row (last second: {result.Describe()})";
        }
        return null;
    }
}
