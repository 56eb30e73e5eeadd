using System.Globalization;
using Parley.Kit.Load.Reports;

namespace Parley.Kit.Load.Baselines;

/// <summary>Recorded run summaries (with their latency histograms), one file per run: <c>&lt;dir&gt;/&lt;scenario&gt;/&lt;yyyyMMdd-HHmmss&gt;.json</c>.</summary>
public sealed class BaselineStore(string directory)
{
    public string Directory { get; } = directory;

    /// <summary>Stores <paramref name="run"/>; recording the same run twice keeps one copy. Returns the file.</summary>
    public string Record(RunSummary run)
    {
        var folder = Path.Combine(Directory, run.Scenario);
        System.IO.Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, run.StartedAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture) + ".json");
        File.WriteAllText(path, run.ToJson());
        return path;
    }

    /// <summary>Every recorded run of <paramref name="scenario"/>, oldest first.</summary>
    public IReadOnlyList<RunSummary> Load(string scenario)
    {
        var folder = Path.Combine(Directory, scenario);
        if (!System.IO.Directory.Exists(folder)) return [];
        return System.IO.Directory.EnumerateFiles(folder, "*.json")
            .Select(path => RunSummary.FromJson(File.ReadAllText(path)))
            .OrderBy(r => r.StartedAt)
            .ToList();
    }

    /// <summary>A summary from a summary.json or a run directory holding one.</summary>
    public static RunSummary ReadRun(string path)
    {
        var file = System.IO.Directory.Exists(path) ? Path.Combine(path, "summary.json") : path;
        return RunSummary.FromJson(File.ReadAllText(file));
    }

    /// <summary>p50/p95/p99 and throughput across recorded runs, as inline SVG.</summary>
    public static string TrendChart(string scenario, IReadOnlyList<RunSummary> runs)
    {
        var indexed = runs.OrderBy(r => r.StartedAt).Select((r, i) => (X: (double)i + 1, Run: r)).ToList();
        return SvgChart.Lines($"{scenario}: latency per recorded run (ms)", "run", "ms",
            [
                new ChartSeries("p50", "#1f77b4", indexed.Select(p => (p.X, p.Run.Latency.P50)).ToList()),
                new ChartSeries("p95", "#ff7f0e", indexed.Select(p => (p.X, p.Run.Latency.P95)).ToList()),
                new ChartSeries("p99", "#d62728", indexed.Select(p => (p.X, p.Run.Latency.P99)).ToList()),
            ])
            + "\n" + SvgChart.Lines($"{scenario}: throughput per recorded run (req/s)", "run", "req/s",
            [new ChartSeries("throughput", "#2ca02c", indexed.Select(p => (p.X, p.Run.Throughput)).ToList())]);
    }
}
