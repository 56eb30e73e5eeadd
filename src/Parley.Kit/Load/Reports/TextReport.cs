using System.Globalization;

namespace Parley.Kit.Load.Reports;

/// <summary>The final table on the terminal.</summary>
public static class TextReport
{
    public static IEnumerable<string> Lines(RunSummary run)
    {
        var inv = CultureInfo.InvariantCulture;
        yield return string.Create(inv, $"parley load {run.Scenario}: {run.Verdict.ToUpperInvariant()}  ({run.Model} model, plan {run.Plan}, {run.Connections:N0} connections, {run.MeasuredSeconds:0.#} s measured after {run.WarmUpSeconds:0.#} s warm-up)");
        if (run.StopReason is not null) yield return $"stopped early: {run.StopReason}";
        if (run.VerifyError is not null) yield return $"verification failed: {run.VerifyError}";
        yield return "";
        var rows = new List<string[]> { new[] { "OPERATION", "REQUESTS", "ERRORS", "P50", "P90", "P95", "P99", "P99.9", "MAX" } };
        string[] Row(string name, long count, string errors, LatencySummary l) =>
            [name, count.ToString("N0", inv), errors, Ms(l.P50), Ms(l.P90), Ms(l.P95), Ms(l.P99), Ms(l.P999), Ms(l.Max)];
        rows.Add(Row("all", run.Requests, string.Create(inv, $"{run.Errors:N0} ({run.ErrorRate:P3})"), run.Latency));
        foreach (var (name, op) in run.Operations.OrderBy(p => p.Key, StringComparer.Ordinal))
            rows.Add(Row(name, op.Requests, op.Errors.ToString("N0", inv), op.Latency));
        foreach (var (name, h) in run.Histograms)
            rows.Add(Row($"{name}*", h.Count, "", h));
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        foreach (var row in rows)
            yield return string.Join("  ", row.Select((cell, c) => c == 0 ? cell.PadRight(widths[c]) : cell.PadLeft(widths[c])));
        yield return "";
        var kinds = run.ErrorKinds.Count > 0 ? $" ({string.Join(", ", run.ErrorKinds.Select(k => $"{k.Key}: {k.Value}"))})" : "";
        yield return string.Create(inv, $"throughput {run.Throughput:N0} req/s · ok {run.Ok:N0} · expected refusals {run.Expected:N0} · errors {run.Errors:N0}{kinds}");
        if (run.Counters.Count > 0)
            yield return "counters: " + string.Join(", ", run.Counters.OrderBy(p => p.Key, StringComparer.Ordinal).Select(p => string.Create(inv, $"{p.Key} {p.Value:N0}")));
        var s = run.Server;
        yield return string.Create(inv,
            $"server: pool max {N(s.PoolSaturationMax)} · cache hit {N(s.CacheHitRatio)} · replica lag max {N(s.ReplicaLagMaxSeconds)} s · breaker max {N(s.ReplicaBreakerMax)} · memory {Mb(s.WorkingSetStartBytes)} → {Mb(s.WorkingSetEndBytes)} MB ({(s.MemoryGrowth is { } g ? g.ToString("+0.0%;-0.0%", inv) : "-")}) · GC {N(s.GcCollections)} collections, {N(s.GcPauseSeconds)} s paused");
        yield return "";
        foreach (var gate in run.Gates) yield return $"  {gate.Text}";
        if (run.Histograms.Count > 0) yield return "(* scenario histogram, not request latency)";
    }

    private static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " ms";

    private static string N(double? value) => value is { } v ? v.ToString("0.###", CultureInfo.InvariantCulture) : "-";

    private static string Mb(double? bytes) => bytes is { } b ? (b / 1048576).ToString("0", CultureInfo.InvariantCulture) : "-";
}
