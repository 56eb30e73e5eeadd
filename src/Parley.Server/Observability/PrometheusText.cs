using System.Globalization;
using System.Text;

namespace Parley.Server.Observability;

/// <summary>Pieces of the Prometheus text exposition format 0.0.4.</summary>
internal static class PrometheusText
{
    /// <summary>A sample value or bucket bound: shortest round-trip form, <c>+Inf</c>, <c>-Inf</c>, <c>NaN</c>.</summary>
    public static string FormatDouble(double value) => value switch
    {
        double.PositiveInfinity => "+Inf",
        double.NegativeInfinity => "-Inf",
        double.NaN => "NaN",
        _ => value.ToString("R", CultureInfo.InvariantCulture),
    };

    public static void AppendFamilyHeader(StringBuilder output, string name, string help, PrometheusMetricType type)
    {
        output.Append("# HELP ").Append(name).Append(' ').Append(PrometheusNaming.EscapeHelp(help)).Append('\n');
        output.Append("# TYPE ").Append(name).Append(' ').Append(type switch
        {
            PrometheusMetricType.Counter => "counter",
            PrometheusMetricType.Histogram => "histogram",
            _ => "gauge",
        }).Append('\n');
    }

    /// <summary><c>name{labels} value</c>, or <c>name value</c> when there are no labels.</summary>
    public static void AppendSample(StringBuilder output, string name, string labels, double value)
    {
        output.Append(name);
        if (labels.Length > 0)
        {
            output.Append('{').Append(labels).Append('}');
        }

        output.Append(' ').Append(FormatDouble(value)).Append('\n');
    }

    /// <summary><c>name_bucket{labels,le="bound"} count</c>.</summary>
    public static void AppendBucket(StringBuilder output, string name, string labels, string bound, long cumulativeCount)
    {
        output.Append(name).Append("_bucket{");
        if (labels.Length > 0)
        {
            output.Append(labels).Append(',');
        }

        output.Append("le=\"").Append(bound).Append("\"} ").Append(cumulativeCount.ToString(CultureInfo.InvariantCulture)).Append('\n');
    }
}
