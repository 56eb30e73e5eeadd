using System.Globalization;
using System.Net;
using System.Text;

namespace Parley.Kit.Load.Reports;

/// <summary>A named series of (x, y) points for <see cref="SvgChart"/>.</summary>
public sealed record ChartSeries(string Name, string Color, IReadOnlyList<(double X, double Y)> Points, bool Dashed = false);

/// <summary>Line charts as inline SVG (no script, no CDN): axes with round ticks, one polyline per series, a legend.</summary>
public static class SvgChart
{
    private const int Left = 64, Right = 16, Top = 28, Bottom = 40;

    public static string Lines(string title, string xLabel, string yLabel, IReadOnlyList<ChartSeries> series, int width = 880, int height = 280)
    {
        var points = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.Y)).ToList();
        var svg = new StringBuilder();
        svg.Append(Inv($"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" width=\"{width}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"11\">"));
        svg.Append(Inv($"<text x=\"{Left}\" y=\"16\" font-size=\"13\" font-weight=\"bold\">{Escape(title)}</text>"));
        if (points.Count == 0)
        {
            svg.Append(Inv($"<text x=\"{width / 2}\" y=\"{height / 2}\" text-anchor=\"middle\">no data</text></svg>"));
            return svg.ToString();
        }
        var (xMin, xMax) = (points.Min(p => p.X), points.Max(p => p.X));
        if (xMax <= xMin) xMax = xMin + 1;
        var yMax = NiceCeiling(points.Max(p => p.Y));
        var plotW = width - Left - Right;
        var plotH = height - Top - Bottom;
        double X(double x) => Left + (x - xMin) / (xMax - xMin) * plotW;
        double Y(double y) => Top + plotH - y / yMax * plotH;

        for (var i = 0; i <= 4; i++)
        {
            var value = yMax * i / 4;
            svg.Append(Inv($"<line x1=\"{Left}\" x2=\"{width - Right}\" y1=\"{Y(value):0.#}\" y2=\"{Y(value):0.#}\" stroke=\"#ddd\"/>"));
            svg.Append(Inv($"<text x=\"{Left - 6}\" y=\"{Y(value) + 4:0.#}\" text-anchor=\"end\">{Format(value)}</text>"));
        }
        for (var i = 0; i <= 5; i++)
        {
            var value = xMin + (xMax - xMin) * i / 5;
            svg.Append(Inv($"<text x=\"{X(value):0.#}\" y=\"{height - Bottom + 16}\" text-anchor=\"middle\">{Format(value)}</text>"));
        }
        svg.Append(Inv($"<text x=\"{Left + plotW / 2}\" y=\"{height - 6}\" text-anchor=\"middle\">{Escape(xLabel)}</text>"));
        svg.Append(Inv($"<text transform=\"translate(14 {Top + plotH / 2}) rotate(-90)\" text-anchor=\"middle\">{Escape(yLabel)}</text>"));
        svg.Append(Inv($"<rect x=\"{Left}\" y=\"{Top}\" width=\"{plotW}\" height=\"{plotH}\" fill=\"none\" stroke=\"#999\"/>"));

        var legendX = Left + 200;
        foreach (var s in series)
        {
            var path = string.Join(' ', s.Points.Where(p => double.IsFinite(p.Y)).Select(p => Inv($"{X(p.X):0.#},{Y(Math.Min(p.Y, yMax)):0.#}")));
            svg.Append(Inv($"<polyline fill=\"none\" stroke=\"{s.Color}\" stroke-width=\"1.6\"{(s.Dashed ? " stroke-dasharray=\"5 4\"" : "")} points=\"{path}\"/>"));
            svg.Append(Inv($"<rect x=\"{legendX}\" y=\"8\" width=\"12\" height=\"4\" fill=\"{s.Color}\"/><text x=\"{legendX + 16}\" y=\"13\">{Escape(s.Name)}</text>"));
            legendX += 24 + 7 * s.Name.Length;
        }
        svg.Append("</svg>");
        return svg.ToString();
    }

    /// <summary>1, 2 or 5 times a power of ten at or above <paramref name="value"/>.</summary>
    internal static double NiceCeiling(double value)
    {
        if (value <= 0 || !double.IsFinite(value)) return 1;
        var magnitude = Math.Pow(10, Math.Floor(Math.Log10(value)));
        foreach (var step in new[] { 1.0, 2, 2.5, 5, 10 })
            if (step * magnitude >= value) return step * magnitude;
        return 10 * magnitude;
    }

    private static string Format(double value) =>
        value >= 10_000 ? (value / 1000).ToString("0.#k", CultureInfo.InvariantCulture)
        : value >= 10 ? value.ToString("0", CultureInfo.InvariantCulture)
        : value.ToString("0.##", CultureInfo.InvariantCulture);

    public static string Escape(string text) => WebUtility.HtmlEncode(text);

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
