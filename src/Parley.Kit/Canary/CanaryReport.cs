using System.Globalization;
using System.Net;
using System.Text;

namespace Parley.Kit.Canary;

/// <summary>report.html of a canary run: one self-contained page (inline SVG, no scripts) with the stage timeline, both
/// variants' latency and error curves per check, and every check's criteria with their figures and test statistic.</summary>
public static class CanaryReport
{
    private const int Width = 860;
    private const int Height = 200;

    public static string Render(CanarySummary s)
    {
        var h = new StringBuilder();
        h.Append("<!doctype html><html><head><meta charset=\"utf-8\"><title>parley canary: ").Append(E(s.Flag)).Append("</title><style>")
         .Append("body{font:14px system-ui,sans-serif;margin:2em;max-width:1000px}table{border-collapse:collapse;margin:1em 0}")
         .Append("td,th{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}.fail{background:#fdd}.pass{background:#dfd}")
         .Append(".inconclusive{background:#ffd}.n\\/a{color:#888}svg{border:1px solid #eee}</style></head><body>");
        h.Append("<h1>Canary: ").Append(E(s.Flag)).Append("</h1>");
        h.Append("<p><b>").Append(E(s.Outcome)).Append("</b> (exit ").Append(s.ExitCode).Append("): ").Append(E(s.Reason)).Append("</p>");
        h.Append("<p>").Append(E(s.Plan)).Append("<br>Started ").Append(T(s.StartedAt)).Append(", ended ").Append(T(s.EndedAt))
         .Append("; flag before: ").Append(s.PreviousEnabled is null ? "not set" : $"{(s.PreviousEnabled.Value ? "on" : "off")} {s.PreviousPercentage}%")
         .Append(", after: ").Append(s.FinalEnabled ? "on" : "off").Append(' ').Append(s.FinalPercentage).Append('%');
        if (s.RolledBackAt is { } at) h.Append("; rolled back at ").Append(T(at));
        h.Append("</p>");

        h.Append("<h2>Stages</h2><table><tr><th>stage</th><th>percent</th><th>started</th><th>ended</th><th>result</th></tr>");
        foreach (var st in s.Stages)
            h.Append("<tr><td>").Append(st.Stage).Append("</td><td>").Append(st.Percent).Append("%</td><td>").Append(T(st.StartedAt))
             .Append("</td><td>").Append(st.EndedAt is { } e ? T(e) : "").Append("</td><td>").Append(E(st.Result)).Append("</td></tr>");
        h.Append("</table>");
        h.Append(Chart("Rollout percentage per check", s.Checks, [("percent", "#555", c => c.Percent)], "%"));

        h.Append(Chart("Latency p95 per check (ms)", s.Checks,
            [("canary p95", "#c33", c => c.CanaryP95Ms), ("control p95", "#36c", c => c.ControlP95Ms),
             ("canary p50", "#f99", c => c.CanaryP50Ms), ("control p50", "#9bf", c => c.ControlP50Ms)], "ms"));
        h.Append(Chart("Error rate per check (%)", s.Checks,
            [("canary", "#c33", c => c.CanaryErrorRate * 100), ("control", "#36c", c => c.ControlErrorRate * 100)], "%"));

        h.Append("<h2>Checks</h2><table><tr><th>#</th><th>time</th><th>stage</th><th>samples on/off</th><th>decision</th><th>criterion</th><th>verdict</th><th>figures and statistic</th></tr>");
        foreach (var c in s.Checks)
        {
            var rows = Math.Max(1, c.Criteria.Count);
            for (var i = 0; i < rows; i++)
            {
                h.Append("<tr>");
                if (i == 0)
                    h.Append("<td rowspan=").Append(rows).Append('>').Append(c.Number).Append("</td><td rowspan=").Append(rows).Append('>').Append(T(c.At))
                     .Append("</td><td rowspan=").Append(rows).Append('>').Append(c.Stage).Append(" (").Append(c.Percent).Append("%)</td><td rowspan=").Append(rows).Append('>')
                     .Append(c.CanarySamples).Append(" / ").Append(c.ControlSamples).Append("</td><td rowspan=").Append(rows).Append(" class=\"").Append(c.Decision).Append("\">")
                     .Append(c.Decision).Append("</td>");
                if (i < c.Criteria.Count)
                {
                    var r = c.Criteria[i];
                    h.Append("<td>").Append(r.Name).Append("</td><td class=\"").Append(r.VerdictText).Append("\">").Append(r.VerdictText)
                     .Append("</td><td>").Append(E(r.Detail)).Append("</td>");
                }
                h.Append("</tr>");
            }
        }
        h.Append("</table></body></html>");
        return h.ToString();
    }

    private static string Chart(string title, IReadOnlyList<CanaryCheck> checks, (string Name, string Color, Func<CanaryCheck, double> Value)[] series, string unit)
    {
        var sb = new StringBuilder("<h2>").Append(E(title)).Append("</h2>");
        if (checks.Count == 0) return sb.Append("<p>No checks.</p>").ToString();
        var max = checks.SelectMany(c => series.Select(s => s.Value(c))).Where(double.IsFinite).DefaultIfEmpty(0).Max();
        if (max <= 0) max = 1;
        const int left = 50, bottom = 20;
        double X(int i) => left + (checks.Count == 1 ? 0 : i * (Width - left - 10.0) / (checks.Count - 1));
        double Y(double v) => Height - bottom - Math.Min(v, max) / max * (Height - bottom - 10);
        sb.Append(CultureInfo.InvariantCulture, $"<svg width=\"{Width}\" height=\"{Height}\" xmlns=\"http://www.w3.org/2000/svg\">");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"2\" y=\"14\" font-size=\"11\">{max:0.##} {unit}</text><text x=\"2\" y=\"{Height - bottom}\" font-size=\"11\">0</text>");
        for (var i = 0; i < checks.Count; i++)
            if (checks[i].Decision != "pass")
                sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{X(i):0.#}\" x2=\"{X(i):0.#}\" y1=\"10\" y2=\"{Height - bottom}\" stroke=\"{(checks[i].Decision == "fail" ? "#f00" : "#cc0")}\" stroke-dasharray=\"3\"/>");
        var legend = left;
        foreach (var (name, color, value) in series)
        {
            var points = string.Join(' ', checks.Select((c, i) => (i, v: value(c))).Where(p => double.IsFinite(p.v))
                .Select(p => string.Create(CultureInfo.InvariantCulture, $"{X(p.i):0.#},{Y(p.v):0.#}")));
            sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{points}\"/>");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{legend}\" y=\"{Height - 4}\" font-size=\"11\" fill=\"{color}\">{E(name)}</text>");
            legend += 110;
        }
        return sb.Append("</svg><p style=\"font-size:11px\">One point per check; dashed lines: red a failed check, yellow an inconclusive one.</p>").ToString();
    }

    private static string T(DateTimeOffset t) => t.UtcDateTime.ToString("HH:mm:ss", CultureInfo.InvariantCulture);

    private static string E(string text) => WebUtility.HtmlEncode(text);
}
