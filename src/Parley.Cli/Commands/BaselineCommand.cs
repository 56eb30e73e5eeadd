using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Parley.Kit.Load.Baselines;
using Parley.Kit.Load.Reports;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley baseline record|compare</c>: keeps run summaries (with their latency histograms) under bench/baselines and
/// compares a run with the last 7 of its scenario: more than 10% worse than their median, confirmed by a Mann-Whitney U
/// test; <c>--fail-after 3</c> fails only on that many regressions in a row. Writes a trend chart.
/// </summary>
public static class BaselineCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("baseline", "Record load-run summaries and compare runs with their baseline (exit 1: regressed --fail-after runs in a row).");
        command.Subcommands.Add(Record(global));
        command.Subcommands.Add(Compare(global));
        return command;
    }

    private static Option<string?> DirectoryOption() => new("--dir") { Description = "Where baselines live (default <repo>/bench/baselines)." };

    private static string Dir(string? dir) => dir ?? Path.Combine(LoadCommand.RepoRoot(), "bench", "baselines");

    private static Command Record(GlobalOptions global)
    {
        var run = new Argument<string>("run") { Description = "A run directory (bench/results/<timestamp>-<scenario>) or its summary.json." };
        var dir = DirectoryOption();
        var command = new Command("record", "Add a run's summary to the baselines of its scenario.") { run, dir };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var summary = ReadRun(result.GetValue(run)!);
            var store = new BaselineStore(Dir(result.GetValue(dir)));
            var path = store.Record(summary);
            var runs = store.Load(summary.Scenario);
            await File.WriteAllTextAsync(Path.Combine(store.Directory, summary.Scenario, "trend.svg"), BaselineStore.TrendChart(summary.Scenario, runs), ct);
            if (cli.Json) cli.WriteJson(new { recorded = path, runs = runs.Count });
            else await cli.Out.WriteLineAsync($"Recorded {summary.Scenario} run of {summary.StartedAt:u} ({runs.Count} on record): {path}");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Compare(GlobalOptions global)
    {
        var run = new Argument<string?>("run") { Description = "A run directory or summary.json to compare; default: the newest recorded run of --scenario.", Arity = ArgumentArity.ZeroOrOne };
        var scenario = new Option<string?>("--scenario") { Description = "The scenario whose recorded runs to compare (when no run is given)." };
        var dir = DirectoryOption();
        var last = new Option<int>("--last") { Description = "Earlier runs each run is compared with.", DefaultValueFactory = _ => 7 };
        var threshold = new Option<double>("--threshold") { Description = "How much worse than the median counts (percent).", DefaultValueFactory = _ => 10 };
        var failAfter = new Option<int>("--fail-after") { Description = "Exit 1 only after this many regressed runs in a row.", DefaultValueFactory = _ => 3 };
        last.InRange(1, 100);
        failAfter.InRange(1, 100);
        var command = new Command("compare", "Compare a run (or the newest recorded ones) with the runs before it.") { run, scenario, dir, last, threshold, failAfter };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var store = new BaselineStore(Dir(result.GetValue(dir)));
            var candidate = result.GetValue(run) is { } path ? ReadRun(path) : null;
            var name = candidate?.Scenario ?? result.GetValue(scenario)
                ?? throw new CliException(ExitCodes.Usage, "Give a run to compare, or --scenario to compare its newest recorded runs.");
            var history = store.Load(name).ToList();
            if (candidate is not null && history.All(h => h.StartedAt != candidate.StartedAt)) history.Add(candidate);
            var fraction = result.GetValue(threshold) / 100;
            var fail = result.GetValue(failAfter);
            var recent = BaselineComparison.Recent(history, name, fail, result.GetValue(last), fraction);
            if (recent.Count == 0) throw new CliException(ExitCodes.Usage, $"No run of '{name}' on record in {store.Directory}; record some with `parley baseline record`.");
            var failed = BaselineComparison.ConsecutiveRegressions(recent, fail);
            var trend = Path.Combine(store.Directory, name, "trend.svg");
            Directory.CreateDirectory(Path.GetDirectoryName(trend)!);
            await File.WriteAllTextAsync(trend, BaselineStore.TrendChart(name, history), ct);

            if (cli.Json)
            {
                cli.WriteJson(new { scenario = name, failed, failAfter = fail, runs = recent, trend });
            }
            else
            {
                var inv = CultureInfo.InvariantCulture;
                TextTable.Write(cli.Out, ["RUN", "VS", "P95 MS", "MEDIAN", "CHANGE", "REQ/S", "MEDIAN", "CHANGE", "U-TEST P", "P(SLOWER)", "VERDICT"],
                    recent.Select(c => new[]
                    {
                        c.StartedAt.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", inv), $"{c.BaselineRuns}",
                        c.P95.ToString("0.00", inv), c.MedianP95?.ToString("0.00", inv) ?? "-", Percent(c.P95Change),
                        c.Throughput.ToString("0", inv), c.MedianThroughput?.ToString("0", inv) ?? "-", Percent(c.ThroughputChange),
                        c.Test?.PValue.ToString("0.####", inv) ?? "-", c.Test?.Effect.ToString("0.00", inv) ?? "-",
                        c.BaselineRuns == 0 ? "no baseline" : c.Regressed ? "REGRESSED" : c.LatencyWorse ? "worse, but noise" : "ok",
                    }));
                await cli.Out.WriteLineAsync();
                await cli.Out.WriteLineAsync(failed
                    ? $"{name}: regressed {fail} runs in a row (>{result.GetValue(threshold):0.#}% worse than the median of the last {result.GetValue(last)}, U test p < {BaselineComparison.Alpha})."
                    : $"{name}: no regression {fail} runs in a row. Trend: {trend}");
            }
            return failed ? ExitCodes.Failure : ExitCodes.Ok;
        });
        return command;
    }

    private static string Percent(double? change) => change is { } c ? Math.Round(c, 3).ToString("+0.0%;-0.0%;0.0%", CultureInfo.InvariantCulture) : "-";

    private static RunSummary ReadRun(string path)
    {
        try
        {
            return BaselineStore.ReadRun(path);
        }
        catch (Exception e) when (e is IOException or JsonException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.Usage, $"cannot read a run summary from {path}: {e.Message}");
        }
    }
}
