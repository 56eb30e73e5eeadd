using System.Collections.Concurrent;
using System.Text;

namespace Parley.Server.Observability;

/// <summary>The kind of Prometheus metric family an instrument becomes.</summary>
internal enum PrometheusMetricType
{
    Counter,
    Gauge,
    Histogram,
}

/// <summary>
/// OpenTelemetry → Prometheus naming, after the OpenTelemetry "Prometheus and OpenMetrics
/// compatibility" specification, with two additions so that the output also passes
/// <c>promtool check metrics</c> (which lints as well as parses):
/// <list type="bullet">
/// <item>camelCase is written snake_case (<c>requestCount</c> → <c>request_count</c>);</item>
/// <item>a gauge whose name would end in a suffix Prometheus reserves for histograms
/// (<c>_count</c>, <c>_sum</c>, <c>_bucket</c>) gets <c>_value</c> appended
/// (<c>dotnet.assembly.count</c> → <c>dotnet_assembly_count_value</c>), so it can never collide
/// with the series of a histogram.</item>
/// </list>
/// Units: annotations in curly braces are dropped (<c>{request}</c>), known UCUM units become words
/// (<c>s</c> → <c>seconds</c>, <c>ms</c> → <c>milliseconds</c>, <c>By</c> → <c>bytes</c>),
/// <c>a/b</c> becomes <c>a_per_b</c>, and <c>1</c> becomes <c>ratio</c> on gauges only.
/// Note that promtool's lint prefers base units: prefer <c>s</c> to <c>ms</c> for new instruments.
/// </summary>
internal static class PrometheusNaming
{
    private const int MaxCachedLabelNames = 4096;
    private static readonly ConcurrentDictionary<string, string> LabelNameCache = new(StringComparer.Ordinal);

    private static readonly Dictionary<string, string> UnitWords = new(StringComparer.Ordinal)
    {
        ["d"] = "days",
        ["h"] = "hours",
        ["min"] = "minutes",
        ["s"] = "seconds",
        ["ms"] = "milliseconds",
        ["us"] = "microseconds",
        ["ns"] = "nanoseconds",
        ["By"] = "bytes",
        ["KiBy"] = "kibibytes",
        ["MiBy"] = "mebibytes",
        ["GiBy"] = "gibibytes",
        ["TiBy"] = "tibibytes",
        ["KBy"] = "kilobytes",
        ["MBy"] = "megabytes",
        ["GBy"] = "gigabytes",
        ["TBy"] = "terabytes",
        ["m"] = "meters",
        ["V"] = "volts",
        ["A"] = "amperes",
        ["J"] = "joules",
        ["W"] = "watts",
        ["g"] = "grams",
        ["Cel"] = "celsius",
        ["Hz"] = "hertz",
        ["%"] = "percent",
    };

    private static readonly Dictionary<string, string> PerUnitWords = new(StringComparer.Ordinal)
    {
        ["s"] = "second",
        ["m"] = "minute",
        ["h"] = "hour",
        ["d"] = "day",
        ["w"] = "week",
        ["mo"] = "month",
        ["y"] = "year",
    };

    /// <summary>The Prometheus family name of an instrument (with <c>_total</c> for counters).</summary>
    public static string MetricName(string instrumentName, string? unit, PrometheusMetricType type)
    {
        string name = Sanitize(instrumentName, allowColon: true);
        if (type == PrometheusMetricType.Counter && name.EndsWith("_total", StringComparison.Ordinal) && name.Length > "_total".Length)
        {
            name = name[..^"_total".Length];
        }

        string unitSuffix = UnitSuffix(unit, type);
        if (unitSuffix.Length > 0 && !name.EndsWith("_" + unitSuffix, StringComparison.Ordinal) && name != unitSuffix)
        {
            name = name + "_" + unitSuffix;
        }

        return type switch
        {
            PrometheusMetricType.Counter => name + "_total",
            PrometheusMetricType.Gauge when EndsWithReservedSuffix(name) => name + "_value",
            _ => name,
        };
    }

    /// <summary>The words a unit adds to a metric name, or an empty string.</summary>
    public static string UnitSuffix(string? unit, PrometheusMetricType type)
    {
        if (string.IsNullOrWhiteSpace(unit))
        {
            return "";
        }

        string trimmed = unit.Trim();
        if (trimmed == "1")
        {
            return type == PrometheusMetricType.Gauge ? "ratio" : "";
        }

        int slash = trimmed.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            return UnitWord(trimmed, UnitWords);
        }

        string main = UnitWord(trimmed[..slash], UnitWords);
        string per = UnitWord(trimmed[(slash + 1)..], PerUnitWords);
        return (main.Length, per.Length) switch
        {
            (_, 0) => main,
            (0, _) => "per_" + per,
            _ => main + "_per_" + per,
        };
    }

    /// <summary>A valid Prometheus label name for a tag key (cached: tag keys are few).</summary>
    public static string LabelName(string tagKey)
    {
        if (LabelNameCache.TryGetValue(tagKey, out string? cached))
        {
            return cached;
        }

        string name = Sanitize(tagKey, allowColon: false);
        if (LabelNameCache.Count < MaxCachedLabelNames)
        {
            LabelNameCache.TryAdd(tagKey, name);
        }

        return name;
    }

    /// <summary>Help text escaped for a <c># HELP</c> line (backslash and newline).</summary>
    public static string EscapeHelp(string help) =>
        help.Replace(@"\", @"\\", StringComparison.Ordinal).Replace("\r", "", StringComparison.Ordinal).Replace("\n", @"\n", StringComparison.Ordinal);

    private static bool EndsWithReservedSuffix(string name) =>
        name.EndsWith("_count", StringComparison.Ordinal)
        || name.EndsWith("_sum", StringComparison.Ordinal)
        || name.EndsWith("_bucket", StringComparison.Ordinal);

    private static string UnitWord(string unit, Dictionary<string, string> words)
    {
        string withoutAnnotations = RemoveAnnotations(unit).Trim();
        if (withoutAnnotations.Length == 0)
        {
            return "";
        }

        return words.TryGetValue(withoutAnnotations, out string? word) ? word : Sanitize(withoutAnnotations, allowColon: false).Trim('_');
    }

    private static string RemoveAnnotations(string unit)
    {
        if (!unit.Contains('{', StringComparison.Ordinal))
        {
            return unit;
        }

        var builder = new StringBuilder(unit.Length);
        int depth = 0;
        foreach (char c in unit)
        {
            if (c == '{')
            {
                depth++;
            }
            else if (c == '}' && depth > 0)
            {
                depth--;
            }
            else if (depth == 0)
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    /// <summary>
    /// Lower snake_case over <c>[a-z0-9_]</c> (and <c>:</c> in metric names): other characters
    /// become <c>_</c>, runs of <c>_</c> collapse, leading and trailing <c>_</c> go, and a leading
    /// digit gets a <c>_</c> in front.
    /// </summary>
    internal static string Sanitize(string raw, bool allowColon)
    {
        var builder = new StringBuilder(raw.Length + 4);
        char previous = '_';
        foreach (char c in raw)
        {
            char next;
            if (c is >= 'a' and <= 'z' or >= '0' and <= '9' || (allowColon && c == ':'))
            {
                next = c;
            }
            else if (c is >= 'A' and <= 'Z')
            {
                if (previous is >= 'a' and <= 'z' or >= '0' and <= '9')
                {
                    builder.Append('_');
                }

                next = (char)(c + ('a' - 'A'));
            }
            else
            {
                next = '_';
            }

            if (next == '_' && (builder.Length == 0 || builder[^1] == '_'))
            {
                previous = next;
                continue;
            }

            builder.Append(next);
            previous = c;
        }

        while (builder.Length > 0 && builder[^1] == '_')
        {
            builder.Length--;
        }

        if (builder.Length == 0)
        {
            return "_";
        }

        if (builder[0] is >= '0' and <= '9')
        {
            builder.Insert(0, '_');
        }

        return builder.ToString();
    }
}
