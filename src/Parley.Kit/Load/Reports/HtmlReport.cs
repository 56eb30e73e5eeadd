using System.Globalization;
using System.Text;

namespace Parley.Kit.Load.Reports;

/// <summary>A self-contained HTML report of one run: verdict, gates, figures, and latency and throughput over time as inline SVG.</summary>
public static class HtmlReport
{
    public static string Render(RunSummary run)
    {
        static string E(string s) => SvgChart.Escape(s);
        var t = run.Timeline;
        var html = new StringBuilder();
        html.Append(CultureInfo.InvariantCulture, $"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>parley load {E(run.Scenario)} — {run.StartedAt:yyyy-MM-dd HH:mm:ss}Z</title>");
        html.Append(Style);
        html.Append(CultureInfo.InvariantCulture, $"""
            <h1>parley load {E(run.Scenario)} <span class="{run.Verdict}">{run.Verdict.ToUpperInvariant()}</span></h1>
            <p>{E(run.Url)} · {E(run.Model)} model · plan {E(run.Plan)} · {run.Connections:N0} connections · warm-up {run.WarmUpSeconds:0.#} s excluded ·
            {run.MeasuredSeconds:0.#} s measured · {E(run.Machine)}{(run.StopReason is null ? "" : $" · stopped early: {E(run.StopReason)}")}{(run.VerifyError is null ? "" : $" · verification failed: {E(run.VerifyError)}")}</p>
            <h2>Gates</h2><table><tr><th>gate</th><th>verdict</th></tr>
            """);
        foreach (var gate in run.Gates)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(gate.Gate)}</td><td class=\"{gate.Status}\">{E(gate.Text)}</td></tr>");
        html.Append(CultureInfo.InvariantCulture, $"""
            </table><h2>Requests</h2><table><tr><th>operation</th><th>requests</th><th>errors</th><th>statuses</th><th>p50 ms</th><th>p90</th><th>p95</th><th>p99</th><th>p99.9</th><th>max</th></tr>
            <tr><td><b>all</b></td><td>{run.Requests:N0}</td><td>{run.Errors:N0} ({run.ErrorRate:P3})</td><td>{run.Throughput:N0} req/s</td>{Cells(run.Latency)}</tr>
            """);
        foreach (var (name, op) in run.Operations.OrderBy(p => p.Key, StringComparer.Ordinal))
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(name)}</td><td>{op.Requests:N0}</td><td>{op.Errors:N0}</td><td>{E(string.Join(" ", op.Statuses.Select(s => $"{s.Key}×{s.Value}")))}</td>{Cells(op.Latency)}</tr>");
        foreach (var (name, h) in run.Histograms)
            html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(name)} (scenario)</td><td>{h.Count:N0}</td><td></td><td></td>{Cells(h)}</tr>");
        html.Append("</table>");
        if (run.Counters.Count > 0 || run.ErrorKinds.Count > 0)
        {
            html.Append("<h2>Counters</h2><table><tr><th>name</th><th>value</th></tr>");
            foreach (var (name, value) in run.Counters.OrderBy(p => p.Key, StringComparer.Ordinal))
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(name)}</td><td>{value:N0}</td></tr>");
            foreach (var (kind, value) in run.ErrorKinds)
                html.Append(CultureInfo.InvariantCulture, $"<tr><td>error: {E(kind)}</td><td>{value:N0}</td></tr>");
            html.Append("</table>");
        }
        var s = run.Server;
        html.Append(CultureInfo.InvariantCulture, $"""
            <h2>Server (from /metrics, {s.Samples} samples)</h2><table>
            <tr><td>pool saturation max / mean</td><td>{N(s.PoolSaturationMax)} / {N(s.PoolSaturationMean)}</td></tr>
            <tr><td>cache hit ratio</td><td>{N(s.CacheHitRatio)}</td></tr>
            <tr><td>replica lag max (s) / breaker max</td><td>{N(s.ReplicaLagMaxSeconds)} / {N(s.ReplicaBreakerMax)}</td></tr>
            <tr><td>working set start → end (max) MB</td><td>{Mb(s.WorkingSetStartBytes)} → {Mb(s.WorkingSetEndBytes)} ({Mb(s.WorkingSetMaxBytes)}); growth {(s.MemoryGrowth is { } g ? g.ToString("P1", CultureInfo.InvariantCulture) : "-")}</td></tr>
            <tr><td>GC collections / pause s / allocated MB</td><td>{N(s.GcCollections)} / {N(s.GcPauseSeconds)} / {Mb(s.AllocatedBytes)}</td></tr>
            </table>
            """);
        html.Append(SvgChart.Lines("Latency per second (ms)", "seconds", "ms",
        [
            new ChartSeries("p50", "#1f77b4", t.Select(p => (p.Second, p.P50)).ToList()),
            new ChartSeries("p95", "#ff7f0e", t.Select(p => (p.Second, p.P95)).ToList()),
            new ChartSeries("p99", "#d62728", t.Select(p => (p.Second, p.P99)).ToList()),
        ]));
        html.Append("<br>");
        List<ChartSeries> throughput =
        [
            new ChartSeries("requests/s", "#2ca02c", t.Select(p => (p.Second, (double)p.Requests)).ToList()),
            new ChartSeries("errors/s", "#d62728", t.Select(p => (p.Second, (double)p.Errors)).ToList()),
        ];
        if (run.Model == "open") throughput.Add(new ChartSeries("target/s", "#555", t.Select(p => (p.Second, p.Target)).ToList(), Dashed: true));
        html.Append(SvgChart.Lines(run.Model == "open" ? "Throughput" : $"Throughput (target line: connections)", "seconds", "per second", throughput));
        if (run.Model == "closed")
            html.Append("<br>").Append(SvgChart.Lines("Connections", "seconds", "connections",
                [new ChartSeries("connections", "#555", t.Select(p => (p.Second, p.Target)).ToList())]));
        html.Append("</body></html>\n");
        return html.ToString();
    }

    internal const string Style = """
        <style>body{font-family:sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 16px}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
        th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.pass{color:#17803d}.fail{color:#c0262d}.inconclusive{color:#b36b00}</style></head><body>
        """;

    private static string Cells(LatencySummary l) =>
        string.Create(CultureInfo.InvariantCulture, $"<td>{l.P50:0.###}</td><td>{l.P90:0.###}</td><td>{l.P95:0.###}</td><td>{l.P99:0.###}</td><td>{l.P999:0.###}</td><td>{l.Max:0.###}</td>");

    private static string N(double? value) => value is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "-";

    private static string Mb(double? bytes) => bytes is { } b ? (b / 1048576).ToString("0.#", CultureInfo.InvariantCulture) : "-";
}
