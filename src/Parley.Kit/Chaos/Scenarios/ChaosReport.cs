using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace Parley.Kit.Chaos.Scenarios;

/// <summary>Writes scenario results as <c>report.json</c> and a short text table <c>report.txt</c>.</summary>
public static class ChaosReport
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web)
    {
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary><c>&lt;repo&gt;/bench/results/&lt;UTC timestamp&gt;-chaos-&lt;name&gt;</c>; the repo is the nearest directory up with Parley.slnx, else the current one.</summary>
    public static string DefaultDirectory(string name, DateTime utcNow)
    {
        var root = new DirectoryInfo(Environment.CurrentDirectory);
        for (var dir = root; dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Parley.slnx")))
            {
                root = dir;
                break;
            }
        }
        return Path.Combine(root.FullName, "bench", "results", $"{utcNow:yyyyMMdd-HHmmss}-chaos-{name}");
    }

    public static void Write(string directory, IReadOnlyList<ScenarioResult> results)
    {
        Directory.CreateDirectory(directory);
        var document = new
        {
            passed = results.All(r => r.Passed),
            machine = new { Environment.ProcessorCount, os = Environment.OSVersion.VersionString },
            results = results.Select(r => new
            {
                r.Scenario,
                r.Description,
                r.Fault,
                r.Passed,
                r.DurationSeconds,
                r.Requests,
                r.RequestsDuringFault,
                r.SuccessRateDuringFault,
                r.AnsweredRateDuringFault,
                r.P95DuringFaultMs,
                r.P95BeforeFaultMs,
                r.WorstLatencyDuringFaultMs,
                r.DetectionSeconds,
                r.RecoverySeconds,
                statusCounts = r.StatusCounts.ToDictionary(kv => kv.Key.ToString(CultureInfo.InvariantCulture), kv => kv.Value),
                r.Criteria,
                invariants = new { r.Invariants.Passed, r.Invariants.Summary, r.Invariants.Acknowledged, r.Invariants.ExpectedDeliveries, r.Invariants.Deliveries, r.Invariants.DuplicateDeliveries, r.Invariants.RepublishedDuplicates, r.Invariants.Lost, r.Invariants.StoredTwice, r.Invariants.MissingFromHistory, r.Invariants.MissedDeliveries, r.Invariants.Leaks, r.Invariants.BadStatuses, r.Invariants.Hung, r.Invariants.TransportErrors, r.Invariants.DeliverySettleSeconds },
                r.Notes,
            }),
        };
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(document, Json));
        var text = new StringBuilder(Table(results)).AppendLine().AppendJoin(Environment.NewLine + Environment.NewLine, results.Select(r => r.Describe())).AppendLine();
        File.WriteAllText(Path.Combine(directory, "report.txt"), text.ToString());
    }

    /// <summary>scenario | result | success | worst latency | recovery | invariants, one row each.</summary>
    public static string Table(IReadOnlyList<ScenarioResult> results)
    {
        string[] header = ["scenario", "result", "success (answered)", "p95 / worst during fault", "detect", "recovery", "invariants"];
        var rows = results.Select(r => new[]
        {
            r.Scenario,
            r.Passed ? "PASS" : "FAIL",
            $"{r.SuccessRateDuringFault:P1} ({r.AnsweredRateDuringFault:P1})",
            $"{r.P95DuringFaultMs:0} / {r.WorstLatencyDuringFaultMs:0} ms",
            r.DetectionSeconds is { } d ? $"{d:0.0} s" : "-",
            r.RecoverySeconds is { } s ? $"{s:0.0} s" : "never",
            r.Invariants.Passed ? $"ok ({r.Invariants.Acknowledged} acked, {r.Invariants.DuplicateDeliveries} dup)" : "VIOLATED",
        }).ToList();
        var widths = header.Select((h, i) => Math.Max(h.Length, rows.Select(row => row[i].Length).DefaultIfEmpty(0).Max())).ToArray();
        var text = new StringBuilder();
        void Line(IReadOnlyList<string> cells) => text.AppendLine(string.Join("  ", cells.Select((c, i) => c.PadRight(widths[i]))).TrimEnd());
        Line(header);
        Line(widths.Select(w => new string('-', w)).ToArray());
        foreach (var row in rows) Line(row);
        return text.ToString();
    }
}
