using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Parley.Cli.Local;
using Parley.Kit.Canary;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Scenarios;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley canary run PLAN.yaml</c> and <c>parley canary status</c> (CANARY.md): ramps a flag stage by stage, judges
/// canary against control each interval, rolls back by itself. Exit 0 promoted, 8 rolled back, 9 held too long, 2 bad
/// plan, 130 interrupted (flag restored).
/// </summary>
public static class CanaryCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("canary", "Ramp a runtime flag in stages, judge canary against control in the same window, roll back by itself (CANARY.md).");

        var plan = new Argument<string>("plan") { Description = "The plan file (YAML): flag, stages, interval, minSamples, maxHold, criteria, slo." };
        var urls = new Option<string[]>("--url") { Description = "A node's base URL to scrape /metrics from, repeatable (loopback only). Default: the plan's nodes, else the server `parley up` runs." };
        var load = new Option<string?>("--load") { Description = $"Drive a `parley load` scenario for the whole run: {string.Join(", ", ScenarioCatalog.Names)}." };
        var rate = new Option<double>("--rate") { Description = "--load's rate in requests per second.", DefaultValueFactory = _ => 100 };
        var prometheus = new Option<string?>("--prometheus") { Description = "Read the figures from this Prometheus server's HTTP API (loopback) instead of scraping each node; default: the plan's prometheus.url, else the nodes. `parley up --prometheus` runs one." };
        var results = new Option<string?>("--results") { Description = "The run's results folder (default <repo>/bench/results/<timestamp>-canary)." };
        var connection = DatabaseTarget.Option();
        var run = new Command("run", "Run a canary plan. Exit 0 promoted, 8 rolled back, 9 held too long without data, 2 bad plan, 130 interrupted.")
        {
            plan, urls, load, rate, prometheus, results, connection,
        };
        run.SetHandler(global, async (r, cli, ct) =>
        {
            CanaryPlan parsed;
            try
            {
                parsed = CanaryPlan.Load(r.GetValue(plan)!);
            }
            catch (CanaryPlanException e)
            {
                throw new CliException(ExitCodes.Usage, $"bad plan: {e.Message}");
            }
            var nodes = (r.GetValue(urls) ?? []).Concat(parsed.Nodes).ToList();
            if (nodes.Count == 0 && LocalInstance.Read(cli.Home).Url is { } local) nodes.Add(local);
            if (nodes.Count == 0) throw new CliException(ExitCodes.Usage, $"no node to judge: pass --url, list nodes in the plan, or start one with `parley up --detach` (root {cli.Home.Root}).");
            List<Uri> nodeUris;
            Uri? prometheusUrl;
            try
            {
                nodeUris = nodes.Select(LoopbackGuard.Ensure).ToList();
                prometheusUrl = r.GetValue(prometheus) is { } p ? LoopbackGuard.Ensure(p) : parsed.PrometheusUrl is { } q ? LoopbackGuard.Ensure(q.ToString()) : null;
            }
            catch (LoadConfigurationException e)
            {
                throw new CliException(ExitCodes.Usage, e.Message);
            }
            if (r.GetValue(load) is { } scenario && !ScenarioCatalog.Names.Contains(scenario))
                throw new CliException(ExitCodes.Usage, $"--load: no scenario '{scenario}'; choose one of {string.Join(", ", ScenarioCatalog.Names)}.");
            if (r.GetValue(rate) is <= 0 or > 100_000) throw new CliException(ExitCodes.Usage, "--rate must be above 0 (at most 100000).");
            var directory = r.GetValue(results) ?? Path.Combine(LoadCommand.RepoRoot(), "bench", "results",
                $"{DateTime.UtcNow.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-canary");
            var settings = new CanarySettings(nodeUris, DatabaseTarget.ConnectionString(cli, r.GetValue(connection)), directory)
            {
                OnLine = line => cli.Err.WriteLine(line),
                StatusFile = StatusFile(cli),
                LoadScenario = r.GetValue(load),
                LoadRate = r.GetValue(rate),
                Prometheus = prometheusUrl,
                PrometheusMatch = parsed.PrometheusMatch,
            };
            using var shutdown = new ShutdownSignal(ct);
            CanarySummary summary;
            try
            {
                summary = await new CanaryRun(parsed, settings).RunAsync(shutdown.Token);
            }
            catch (Exception e) when (e is InvalidOperationException or TimeoutException or Npgsql.NpgsqlException)
            {
                throw new CliException(ExitCodes.Failure, $"the canary could not start: {e.Message}");
            }
            if (cli.Json) await cli.Out.WriteLineAsync(summary.ToJson());
            else
            {
                await cli.Out.WriteLineAsync($"{summary.Outcome}: {summary.Reason}");
                await cli.Out.WriteLineAsync($"report: {Path.Combine(directory, "report.html")}");
            }
            return summary.ExitCode;
        });

        var status = new Command("status", "The canary run in progress (or the last one): stage, percentage, last verdicts.");
        status.SetHandler(global, async (_, cli, _) =>
        {
            var file = StatusFile(cli);
            if (!File.Exists(file))
            {
                await cli.Out.WriteLineAsync("No canary run from this root.");
                return ExitCodes.Failure;
            }
            var current = JsonSerializer.Deserialize<CanaryStatus>(await File.ReadAllTextAsync(file), CanarySummary.Json)!;
            var live = current.State == "running" && Processes.IsAlive(current.Pid);
            if (cli.Json) cli.WriteJson(new { running = live, status = current });
            else
            {
                await cli.Out.WriteLineAsync($"{current.Flag}: {(live ? "running" : current.State == "running" ? "stopped without finishing" : current.State)}, stage {current.Stage}/{current.Stages} at {current.Percent}% (pid {current.Pid})");
                if (current.LastCheck is { } check)
                    await cli.Out.WriteLineAsync($"last check {check.Number} at {check.At:HH:mm:ss}: samples on={check.CanarySamples} off={check.ControlSamples} → {check.Decision}; "
                        + string.Join(" ", check.Criteria.Select(c => $"{c.Name}={c.VerdictText}")));
                await cli.Out.WriteLineAsync($"results: {current.ResultsDirectory}");
            }
            return live ? ExitCodes.Ok : ExitCodes.Failure;
        });

        command.Add(run);
        command.Add(status);
        return command;
    }

    private static string StatusFile(CliContext cli)
    {
        Directory.CreateDirectory(cli.Home.Root);
        return Path.Combine(cli.Home.Root, "canary.json");
    }
}
