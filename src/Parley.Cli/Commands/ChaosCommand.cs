using System.CommandLine;
using Parley.Kit.Chaos.Scenarios;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley chaos &lt;scenario&gt;|smoke|all|list</c>: starts its own stack behind fault proxies, runs the scenarios
/// (real Parley node processes, real traffic on loopback), writes bench/results/&lt;timestamp&gt;-chaos-&lt;name&gt;/.
/// </summary>
public static class ChaosCommand
{
    public static Command Create(GlobalOptions global)
    {
        var name = new Argument<string>("scenario")
        {
            Description = $"A scenario ({string.Join(", ", ChaosCatalog.All.Select(s => s.Name))}), 'smoke' (the CI set), 'observer' (every observer-* scenario: seed 003's failover tests 1-5 and E2E 4), 'all', or 'list'.",
        };
        var output = new Option<string?>("--out") { Description = "Report directory. Default: bench/results/<timestamp>-chaos-<scenario>." };
        var command = new Command("chaos", "Run chaos scenarios against a fresh local stack and write their reports.") { name, output };
        command.SetHandler(global, (result, cli, ct) => RunAsync(cli, result.GetValue(name)!, result.GetValue(output), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, string name, string? output, CancellationToken ct)
    {
        if (name == "list")
        {
            if (cli.Json) cli.WriteJson(ChaosCatalog.All.Select(s => new { s.Name, s.Description, s.Smoke }));
            else
                TextTable.Write(cli.Out, ["scenario", "tier", "what"], ChaosCatalog.All.Select(s => (IReadOnlyList<string>)[s.Name, s.Smoke ? "smoke" : "full", s.Description]));
            return ExitCodes.Ok;
        }
        IReadOnlyList<ChaosScenario> scenarios = name switch
        {
            "all" => ChaosCatalog.All,
            "smoke" => ChaosCatalog.All.Where(s => s.Smoke).ToList(),
            "observer" => ChaosCatalog.All.Where(s => s.Name.StartsWith("observer-", StringComparison.Ordinal)).ToList(),
            _ => ChaosCatalog.Find(name) is { } one ? [one] : throw new CliException(ExitCodes.Usage, $"unknown chaos scenario '{name}'; run `parley chaos list`."),
        };
        var directory = output ?? ChaosReport.DefaultDirectory(name, DateTime.UtcNow);
        var results = new List<ScenarioResult>();
        await using (var env = await ChaosEnvironment.StartAsync(cli.Progress, ct))
        {
            foreach (var scenario in scenarios)
            {
                var result = await scenario.RunAsync(env, ct);
                results.Add(result);
                if (!cli.Json) await cli.Err.WriteLineAsync(result.Describe());
                ChaosReport.Write(directory, results);
            }
        }
        if (cli.Json) cli.WriteJson(new { passed = results.All(r => r.Passed), report = directory, results = results.Select(r => new { r.Scenario, r.Passed, r.SuccessRateDuringFault, r.WorstLatencyDuringFaultMs, r.RecoverySeconds, invariants = r.Invariants.Summary }) });
        else
        {
            await cli.Out.WriteAsync(ChaosReport.Table(results));
            await cli.Out.WriteLineAsync($"report: {directory}");
        }
        return results.All(r => r.Passed) ? ExitCodes.Ok : ExitCodes.Failure;
    }
}
