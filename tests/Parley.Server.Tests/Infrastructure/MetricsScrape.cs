using System.Text.RegularExpressions;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>Reads one series' value from the server's /metrics text.</summary>
public static class MetricsScrape
{
    /// <summary>The sum of the series of <paramref name="name"/> whose labels include all of <paramref name="labels"/> (e.g. <c>result="hit"</c>).</summary>
    public static async Task<double> ValueAsync(HttpClient http, string name, params string[] labels)
    {
        var text = await http.GetStringAsync("/metrics");
        var total = 0.0;
        foreach (Match m in Regex.Matches(text, $@"^{Regex.Escape(name)}(\{{(?<labels>[^}}]*)\}})? (?<value>\S+)$", RegexOptions.Multiline))
        {
            var series = m.Groups["labels"].Value;
            if (labels.All(series.Contains))
                total += double.Parse(m.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
        }
        return total;
    }
}
