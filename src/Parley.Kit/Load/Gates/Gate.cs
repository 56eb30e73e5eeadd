using System.Globalization;
using System.Text.RegularExpressions;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Gates;

public enum GateOperator
{
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    Equal,
}

public enum GateKind
{
    /// <summary><c>p95</c>, <c>p99.9</c>, <c>max</c>, <c>mean</c>, optionally of an operation or a named histogram: <c>delivery.p99</c>. Threshold in ns.</summary>
    Latency,

    /// <summary><c>errors</c>: errors / requests, threshold as a fraction.</summary>
    ErrorRate,

    /// <summary><c>rate</c>: measured requests per second.</summary>
    Throughput,

    /// <summary>Anything else: a counter or value of the run (<c>lost</c>, <c>duplicates</c>, <c>stale</c>, <c>memory_growth</c>, <c>cache_hit</c>).</summary>
    Value,
}

/// <summary>
/// An SLO gate, k6-like: <c>p95&lt;50ms</c>, <c>history.p99&lt;=100ms</c>, <c>errors&lt;0.1%</c>, <c>rate&gt;=4000</c>,
/// and correctness gates no load tool has: <c>lost==0</c>, <c>duplicates&lt;=3</c>, <c>stale==0</c>.
/// </summary>
public sealed partial record Gate(string Text, string Metric, GateKind Kind, string? Histogram, double Percentile, GateOperator Operator, double Threshold)
{
    [GeneratedRegex(@"^\s*(?<metric>[a-z_][a-z0-9_]*(?:\.[a-z0-9_.]+)?)\s*(?<op><=|>=|==|<|>)\s*(?<value>[0-9]+(?:\.[0-9]+)?)\s*(?<unit>ms|us|µs|s|%)?\s*$",
        RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Syntax();

    [GeneratedRegex(@"^(?:p(?<p>[0-9]+(?:\.[0-9]+)?)|(?<max>max)|(?<mean>mean))$", RegexOptions.CultureInvariant)]
    private static partial Regex LatencyStatistic();

    /// <summary>Parses one gate; <see cref="LoadConfigurationException"/> says what is wrong and how to write it.</summary>
    public static Gate Parse(string text)
    {
        var match = Syntax().Match(text);
        if (!match.Success)
            throw new LoadConfigurationException($"'{text}' is not a gate: write e.g. p95<50ms, errors<0.1%, rate>=1000, lost==0, delivery.p99<100ms.");
        var metric = match.Groups["metric"].Value.ToLowerInvariant();
        var op = match.Groups["op"].Value switch
        {
            "<" => GateOperator.Less,
            "<=" => GateOperator.LessOrEqual,
            ">" => GateOperator.Greater,
            ">=" => GateOperator.GreaterOrEqual,
            _ => GateOperator.Equal,
        };
        var value = double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
        var unit = match.Groups["unit"].Success ? match.Groups["unit"].Value.ToLowerInvariant() : "";

        var dot = metric.IndexOf('.', StringComparison.Ordinal);
        var statistic = LatencyStatistic().Match(metric);
        string? histogram = null;
        if (!statistic.Success && dot > 0 && LatencyStatistic().Match(metric[(dot + 1)..]) is { Success: true } named)
        {
            statistic = named;
            histogram = metric[..dot];
        }
        if (statistic.Success)
        {
            if (unit == "%") throw new LoadConfigurationException($"'{text}': a latency takes ms, s or us, not %.");
            var percentile = statistic.Groups["max"].Success ? 100 : statistic.Groups["mean"].Success ? -1
                : double.Parse(statistic.Groups["p"].Value, CultureInfo.InvariantCulture);
            if (percentile > 100) throw new LoadConfigurationException($"'{text}': a percentile is at most 100.");
            var nanoseconds = value * unit switch { "s" => 1e9, "us" or "µs" => 1e3, _ => 1e6 };
            return new Gate(text.Trim(), metric, GateKind.Latency, histogram, percentile, op, nanoseconds);
        }
        if (unit is "ms" or "s" or "us" or "µs")
            throw new LoadConfigurationException($"'{text}': only latencies (p95, max, delivery.p99, ...) take a time unit.");
        var threshold = unit == "%" ? value / 100 : value;
        return metric switch
        {
            "errors" => new Gate(text.Trim(), metric, GateKind.ErrorRate, null, 0, op, threshold),
            "rate" => new Gate(text.Trim(), metric, GateKind.Throughput, null, 0, op, threshold),
            _ => new Gate(text.Trim(), metric, GateKind.Value, null, 0, op, threshold),
        };
    }

    /// <summary>Gates from a file: one per line; blank lines and <c>#</c> comments ignored.</summary>
    public static IReadOnlyList<Gate> ParseFile(string path) =>
        File.ReadAllLines(path)
            .Select(line => line.Split('#')[0].Trim())
            .Where(line => line.Length > 0)
            .Select(Parse)
            .ToList();

    /// <summary>Whether this gate is judged on request data (and so on the sliding window while running).</summary>
    public bool AppliesToRequests => Kind is GateKind.ErrorRate or GateKind.Throughput || (Kind == GateKind.Latency && Histogram is null);

    public bool Holds(double observed) => Operator switch
    {
        GateOperator.Less => observed < Threshold,
        GateOperator.LessOrEqual => observed <= Threshold,
        GateOperator.Greater => observed > Threshold,
        GateOperator.GreaterOrEqual => observed >= Threshold,
        _ => Math.Abs(observed - Threshold) < 1e-12,
    };
}
