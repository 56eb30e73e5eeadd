using System.Globalization;
using System.Text;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Reports;

namespace Parley.Kit.Nightly;

/// <summary>One key figure of one test: tonight's value beside the median of the previous nights (up to 7).</summary>
public sealed record FigureTrend(int Test, string Figure, double Tonight, double? Median, int Nights, IReadOnlyList<double> Values)
{
    public double? Change => Median is { } m && m != 0 ? Tonight / m - 1 : null;
}

/// <summary>The night's report in the load kit's style: every test with its criteria and verdicts, the baseline comparison, a trend chart per key figure (inline SVG).</summary>
public static class NightlyReport
{
    public static void Write(string directory, NightlySummary night, IReadOnlyList<NightlySummary> previous)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "summary.json"), night.ToJson());
        File.WriteAllText(Path.Combine(directory, "report.html"), Render(night, previous));
    }

    /// <summary>Each figure of tonight's tests against the same figure of <paramref name="previous"/> nights (oldest first).</summary>
    public static IReadOnlyList<FigureTrend> Trends(NightlySummary night, IReadOnlyList<NightlySummary> previous)
    {
        var earlier = previous.Where(p => p.StartedAt < night.StartedAt).OrderBy(p => p.StartedAt).TakeLast(NightlyHistory.Nights).ToList();
        return night.Tests.SelectMany(t => t.Figures.Select(f =>
        {
            var before = earlier.Select(n => n.Tests.FirstOrDefault(x => x.Number == t.Number)?.Figures.GetValueOrDefault(f.Key, double.NaN) ?? double.NaN)
                .Where(double.IsFinite).ToList();
            return new FigureTrend(t.Number, f.Key, f.Value, before.Count == 0 ? null : BaselineComparison.Median(before), before.Count, [.. before, f.Value]);
        })).ToList();
    }

    public static string Render(NightlySummary night, IReadOnlyList<NightlySummary> previous)
    {
        static string E(string s) => SvgChart.Escape(s);
        var inv = CultureInfo.InvariantCulture;
        var html = new StringBuilder();
        html.Append(inv, $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>parley nightly — {night.StartedAt:yyyy-MM-dd HH:mm:ss}Z</title>");
        html.Append(HtmlReport.Style);
        html.Append(inv, $"<h1>parley nightly <span class=\"{night.Verdict}\">{night.Verdict.ToUpperInvariant()}</span></h1>");
        html.Append(inv, $"<p>{night.StartedAt:yyyy-MM-dd HH:mm:ss}Z → {night.FinishedAt:HH:mm:ss}Z ({(night.FinishedAt - night.StartedAt).TotalMinutes:0.#} min, planned {night.PlannedMinutes:0.#} min) · scale {night.Scale:0.####}{(night.BudgetMinutes is { } b ? $" · budget {b:0.#} min" : "")} · {E(night.Machine)}</p>");
        if (night.Scale < 1)
            html.Append(inv, $"<p class=\"inconclusive\"><b>SCALED RUN</b>: load tests ran {night.Scale:P1} of seed 002's durations (at least {NightlyOptions.MinimumDuration.TotalSeconds:0} s each); a check of the suite, not a night of record.</p>");

        html.Append("<h2>Tests</h2><table><tr><th>#</th><th>test</th><th>verdict</th><th>criteria passed</th><th>took s</th><th>planned s</th><th>run report</th></tr>");
        foreach (var t in night.Tests)
            html.Append(inv, $"<tr><td>{t.Number}</td><td><a href=\"#t{t.Number}\">{E(t.Title)}</a></td><td class=\"{t.Verdict}\">{t.Verdict.ToUpperInvariant()}</td><td>{t.Criteria.Count(c => c.Passed)} / {t.Criteria.Count}</td><td>{t.Seconds:0}</td><td>{t.PlannedSeconds:0}</td><td>{(t.RunReport is null ? "" : $"<a href=\"{E(t.RunReport)}\">{E(t.RunReport)}</a>")}</td></tr>");
        html.Append("</table>");

        foreach (var t in night.Tests)
        {
            html.Append(inv, $"<h2 id=\"t{t.Number}\">{t.Number}. {E(t.Title)} <span class=\"{t.Verdict}\">{t.Verdict.ToUpperInvariant()}</span></h2><p>seed 002: {E(t.SeedCriteria)}</p>");
            if (t.Error is not null) html.Append(inv, $"<p class=\"fail\">did not finish: {E(t.Error)}</p>");
            html.Append("<table><tr><th>criterion</th><th>target</th><th>measured</th><th>verdict</th></tr>");
            foreach (var c in t.Criteria)
                html.Append(inv, $"<tr><td>{E(c.Name)}</td><td>{E(c.Target)}</td><td>{E(c.Measured)}</td><td class=\"{(c.Passed ? "pass" : "fail")}\">{(c.Passed ? "pass" : "FAIL")}</td></tr>");
            if (t.Criteria.Count == 0) html.Append("<tr><td colspan=\"4\" class=\"fail\">nothing judged: the test fails</td></tr>");
            html.Append("</table>");
            if (t.Notes.Count > 0)
                html.Append("<details><summary>notes</summary><ul>").Append(string.Concat(t.Notes.Select(n => $"<li>{E(n)}</li>"))).Append("</ul></details>");
        }

        html.Append("<h2>Baseline: each load run against the last 7 runs of its scenario (parley baseline)</h2>");
        html.Append("<table><tr><th>scenario</th><th>vs runs</th><th>p95 ms</th><th>median</th><th>change</th><th>req/s</th><th>median</th><th>change</th><th>U-test p</th><th>verdict</th></tr>");
        foreach (var c in night.Baseline)
            html.Append(inv, $"<tr><td>{E(c.Scenario)}</td><td>{c.BaselineRuns}</td><td>{c.P95:0.##}</td><td>{N(c.MedianP95)}</td><td>{Pct(c.P95Change)}</td><td>{c.Throughput:0}</td><td>{N(c.MedianThroughput)}</td><td>{Pct(c.ThroughputChange)}</td><td>{(c.Test is { } u ? u.PValue.ToString("0.####", inv) : "-")}</td><td class=\"{(c.Regressed ? "fail" : "pass")}\">{(c.BaselineRuns == 0 ? "no baseline" : c.Regressed ? "REGRESSED" : "ok")}</td></tr>");
        html.Append("</table>");

        var trends = Trends(night, previous);
        html.Append(inv, $"<h2>Trends: key figures against the last {NightlyHistory.Nights} nights at scale {night.Scale:0.####}</h2>");
        html.Append("<table><tr><th>test</th><th>figure</th><th>tonight</th><th>median of earlier nights</th><th>change</th><th>nights</th></tr>");
        foreach (var f in trends)
            html.Append(inv, $"<tr><td>{f.Test}</td><td>{E(f.Figure)}</td><td>{f.Tonight:0.####}</td><td>{N(f.Median)}</td><td>{Pct(f.Change)}</td><td>{f.Nights}</td></tr>");
        html.Append("</table><div style=\"display:flex;flex-wrap:wrap;gap:8px\">");
        foreach (var f in trends)
            html.Append(SvgChart.Lines($"{f.Test}. {f.Figure}", "night (last = tonight)", f.Figure,
                [new ChartSeries(f.Figure, "#1f77b4", f.Values.Select((v, i) => ((double)i + 1, v)).ToList())], width: 420, height: 200));
        html.Append("</div></body></html>\n");
        return html.ToString();
    }

    private static string N(double? value) => value is { } v ? v.ToString("0.####", CultureInfo.InvariantCulture) : "-";

    private static string Pct(double? change) => change is { } c ? c.ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture) : "-";
}
