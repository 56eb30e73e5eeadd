using System.CommandLine;
using System.Globalization;
using Parley.Kit.Nightly;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley nightly [--budget MINUTES] [--scale F] [--out DIR]</c>: seed 002's tests 1–15 on a fresh local stack, each
/// judged by its criteria; writes report.html and summary.json, compares with the last 7 nights. Exit 1 when a test failed.
/// </summary>
public static class NightlyCommand
{
    public static Command Create(GlobalOptions global)
    {
        var budget = new Option<double?>("--budget") { Description = "Minutes the night may take; the load tests are shortened to fit. Default: none (seed durations)." };
        var scale = new Option<double?>("--scale") { Description = $"Factor on the load tests' seed durations (0.02: a few-minute smoke of the suite). Default ${NightlyOptions.ScaleVariable}, else 1." };
        var output = new Option<string?>("--out") { Description = "Report directory. Default: bench/results/<timestamp>-nightly (-nightly-scaled below scale 1)." };
        var baselines = new Option<string?>("--baselines") { Description = "The baseline store (default <repo>/bench/baselines; the nights' history under its nightly/)." };
        var only = new Option<int[]>("--only") { Description = "Only these seed test numbers (1-15), repeatable.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("nightly", "Run seed 002's nightly verification (tests 1-15: soaks, load, chaos, baseline) on a fresh local stack and write its report. Exit 1: a test failed.")
        {
            budget, scale, output, baselines, only,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var factor = result.GetValue(scale) ?? NightlyOptions.ScaleFromEnvironment();
            if (factor is <= 0 or > 1) throw new CliException(ExitCodes.Usage, $"--scale must be in (0, 1], not {factor.ToString(CultureInfo.InvariantCulture)}.");
            if (result.GetValue(budget) is <= 0) throw new CliException(ExitCodes.Usage, "--budget must be a positive number of minutes.");
            var numbers = result.GetValue(only) ?? [];
            if (numbers.Any(n => n is < 1 or > 15)) throw new CliException(ExitCodes.Usage, "--only takes seed test numbers 1-15.");
            var stamp = DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture);
            var options = new NightlyOptions
            {
                Scale = factor,
                BudgetMinutes = result.GetValue(budget),
                OutputDirectory = result.GetValue(output) ?? Path.Combine(LoadCommand.RepoRoot(), "bench", "results", $"{stamp}-nightly{(factor < 1 ? "-scaled" : "")}"),
                BaselineDirectory = result.GetValue(baselines) ?? Path.Combine(LoadCommand.RepoRoot(), "bench", "baselines"),
                Only = numbers.Length == 0 ? null : numbers.ToHashSet(),
                Progress = cli.Progress,
            };
            var night = await NightlySuite.RunAsync(options, ct);
            if (cli.Json)
            {
                cli.WriteJson(new { passed = night.Passed, report = options.OutputDirectory, tests = night.Tests.Select(t => new { t.Number, t.Name, t.Verdict, t.Error }) });
            }
            else
            {
                TextTable.Write(cli.Out, ["#", "TEST", "VERDICT", "CRITERIA", "FAILED"], night.Tests.Select(t => (IReadOnlyList<string>)
                [
                    $"{t.Number}", t.Title, t.Verdict.ToUpperInvariant(), $"{t.Criteria.Count(c => c.Passed)}/{t.Criteria.Count}",
                    string.Join("; ", t.Criteria.Where(c => !c.Passed).Select(c => c.Name).Prepend(t.Error ?? "").Where(s => s.Length > 0)),
                ]));
                await cli.Out.WriteLineAsync($"report: {Path.Combine(options.OutputDirectory, "report.html")}");
            }
            return night.Passed ? ExitCodes.Ok : ExitCodes.Failure;
        });
        return command;
    }
}
