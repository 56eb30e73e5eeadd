using System.CommandLine;
using System.Globalization;
using Parley.Cli.Local;
using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Reports;
using Parley.Kit.Load.Scenarios;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley load &lt;scenario&gt;</c>: runs a load scenario against a local Parley, prints live progress and a final table,
/// writes summary.json and report.html under bench/results/&lt;timestamp&gt;-&lt;scenario&gt;/, and exits non-zero when an SLO gate
/// is breached (6) or has no data (7). <c>parley load seed</c> bulk-loads data.
/// </summary>
public static class LoadCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("load", "Run a load scenario against a local Parley (loopback only) and judge it by SLO gates. Exit 6: a gate breached; 7: a gate had no data.");
        foreach (var name in ScenarioCatalog.Names)
            command.Subcommands.Add(ScenarioCommand(global, ScenarioCatalog.Create(name)));
        command.Subcommands.Add(LoadSeedCommand.Create(global));
        command.Subcommands.Add(LoadObserverCommand.Create(global));
        return command;
    }

    private static Command ScenarioCommand(GlobalOptions global, ILoadScenario scenario)
    {
        var d = scenario.Defaults;
        var url = new Option<string?>("--url") { Description = "Target base URL (loopback only). Default: the server `parley up` runs from --root." };
        var rate = new Option<double?>("--rate") { Description = $"Open model: requests per second (default {d.Rate:N0}; SLO.md's target rate)." };
        var duration = new Option<string?>("--duration") { Description = $"Measured time, e.g. 30s, 5m (default {d.Duration.TotalSeconds:0} s)." };
        var connections = new Option<int?>("--connections") { Description = $"Connections held: the HTTP pool (open), virtual users (closed), or WebSockets (ws, soak). Default {d.Connections:N0}." };
        var requests = new Option<long?>("--requests") { Description = "Stop after this many measured requests (whichever bound comes first)." };
        var warmup = new Option<string>("--warmup") { Description = "Unmeasured warm-up first (JIT, pools, caches).", DefaultValueFactory = _ => "5s" };
        var stages = new Option<string?>("--stages") { Description = "Stages instead of a constant target: duration:target,... e.g. 30s:1000,1m:4000 (req/s, or connections with --closed)." + (d.Stages is null ? "" : $" Default {d.Stages}.") };
        var start = new Option<double?>("--start") { Description = "Target at the start of the first stage (default: the first stage's target)." };
        var closed = new Option<bool>("--closed") { Description = "Closed model: N connections each sending when the previous request answered." };
        var pacing = new Option<string?>("--pacing") { Description = "Closed model: one request per connection every interval, e.g. 10s (latency from the scheduled start)." };
        var timeout = new Option<string>("--timeout") { Description = "Per-request timeout.", DefaultValueFactory = _ => "10s" };
        var gates = new Option<string[]>("--gate") { Description = "An SLO gate, repeatable: 'p95<50ms', 'errors<0.1%', 'rate>=1000', 'lost==0', 'delivery.p99<100ms'. Replaces the defaults: " + string.Join(" ", d.Gates), AllowMultipleArgumentsPerToken = false };
        var gatesFile = new Option<string?>("--gates-file") { Description = "Gates from a file, one per line (# comments)." };
        var window = new Option<string>("--gate-window") { Description = "Abort when a gate fails every second for this long.", DefaultValueFactory = _ => "10s" };
        var summaryExport = new Option<string?>("--summary-export") { Description = "Also write the JSON summary to this file." };
        var results = new Option<string?>("--results") { Description = "Where run directories go (default <repo>/bench/results)." };
        var flags = new Option<string[]>("--flag") { Description = "A runtime flag for this run, repeatable: message.history.cache.enabled (on) or name=off; restored afterwards. Needs `parley up --admin load_admin`." };
        var admin = new Option<string>("--admin") { Description = "The admin handle --flag uses.", DefaultValueFactory = _ => "load_admin" };

        var command = new Command(scenario.Name, $"{scenario.Description}. Seed: {d.SeedTarget}. SLO.md: {d.SloTarget}.")
        {
            url, rate, duration, connections, requests, warmup, stages, start, closed, pacing, timeout, gates, gatesFile, window, summaryExport, results, flags, admin,
        };
        var path = new Option<string>("--path") { Description = "get: the path to GET.", DefaultValueFactory = _ => "health/live" };
        var bearer = new Option<string?>("--bearer") { Description = "get: an access token to send." };
        if (scenario is GetScenario)
        {
            command.Options.Add(path);
            command.Options.Add(bearer);
        }
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var run = scenario is GetScenario get ? get.With(result.GetValue(path)!, result.GetValue(bearer)) : scenario;
            var model = result.GetValue(closed) || (d.Model == LoadModel.Closed && result.GetValue(rate) is null) ? LoadModel.Closed : LoadModel.Open;
            var measured = Parse(result.GetValue(duration), d.Duration, "--duration");
            var planText = result.GetValue(stages) ?? (result.GetValue(duration) is null && result.GetValue(rate) is null ? d.Stages : null);
            var target = model == LoadModel.Open ? result.GetValue(rate) ?? d.Rate : result.GetValue(connections) ?? d.Connections;
            StagePlan plan;
            try
            {
                plan = planText is null ? StagePlan.Constant(target, measured)
                    : StagePlan.Parse(planText, result.GetValue(start) ?? StagePlan.Parse(planText).Stages[0].Target);
            }
            catch (FormatException e)
            {
                throw new CliException(ExitCodes.Usage, e.Message);
            }
            var profile = new LoadProfile
            {
                Model = model,
                Plan = plan,
                Connections = result.GetValue(connections) ?? d.Connections,
                WarmUp = Parse(result.GetValue(warmup), TimeSpan.FromSeconds(5), "--warmup"),
                MaxRequests = result.GetValue(requests) ?? long.MaxValue,
                RequestTimeout = Parse(result.GetValue(timeout), TimeSpan.FromSeconds(10), "--timeout"),
                GateWindow = Parse(result.GetValue(window), TimeSpan.FromSeconds(10), "--gate-window"),
                Pacing = Parse(result.GetValue(pacing), model == LoadModel.Closed && result.GetValue(closed) is false ? d.Pacing ?? TimeSpan.Zero : TimeSpan.Zero, "--pacing"),
            };
            var gateTexts = (result.GetValue(gates) ?? []).ToList();
            var gateList = new List<Gate>();
            try
            {
                if (result.GetValue(gatesFile) is { } file) gateList.AddRange(Gate.ParseFile(file));
                gateList.AddRange((gateTexts.Count == 0 && gateList.Count == 0 ? d.Gates : gateTexts).Select(Gate.Parse));
            }
            catch (IOException e)
            {
                throw new CliException(ExitCodes.Usage, $"cannot read the gates file: {e.Message}");
            }
            var targetUrl = result.GetValue(url) ?? LocalInstance.Read(cli.Home).Url
                ?? throw new CliException(ExitCodes.Usage, $"No server runs from {cli.Home.Root}: start one with `parley up --detach`, or pass --url http://127.0.0.1:PORT.");
            var flagSettings = (result.GetValue(flags) ?? []).Select(f => f.Split('=', 2)).ToDictionary(
                f => f[0], f => f.Length == 1 || f[1] is "on" or "true" or "1", StringComparer.Ordinal);
            var settings = new LoadRunSettings(targetUrl, profile, gateList, planText ?? $"{target:0.##} for {measured.TotalSeconds:0.#}s")
            {
                Flags = flagSettings,
                AdminHandle = result.GetValue(admin)!,
            };
            return await RunAsync(cli, run, settings, result.GetValue(summaryExport), result.GetValue(results), ct);
        });
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, ILoadScenario scenario, LoadRunSettings settings, string? summaryExport, string? resultsRoot, CancellationToken ct)
    {
        var live = !Console.IsErrorRedirected;
        var lastLength = 0;
        void Progress(string line)
        {
            if (live)
            {
                cli.Err.Write("\r" + line.PadRight(lastLength));
                lastLength = line.Length;
            }
            else
            {
                cli.Err.WriteLine(line);
            }
        }
        RunSummary summary;
        try
        {
            summary = await LoadRunner.RunAsync(scenario, settings with { OnProgress = Progress, Log = cli.Progress }, ct);
        }
        catch (LoadConfigurationException e)
        {
            throw new CliException(ExitCodes.Usage, e.Message);
        }
        catch (HttpRequestException e)
        {
            throw new CliException(ExitCodes.Failure, $"the server at {settings.Url} did not answer during setup: {e.Message}");
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliException(ExitCodes.Failure, $"a setup request to {settings.Url} timed out (is the server overloaded or stopped?)");
        }
        finally
        {
            if (live && lastLength > 0) cli.Err.WriteLine();
        }

        var directory = Path.Combine(resultsRoot ?? Path.Combine(RepoRoot(), "bench", "results"),
            $"{summary.StartedAt.UtcDateTime.ToString("yyyyMMdd-HHmmss", CultureInfo.InvariantCulture)}-{scenario.Name}");
        Directory.CreateDirectory(directory);
        var json = summary.ToJson();
        await File.WriteAllTextAsync(Path.Combine(directory, "summary.json"), json, CancellationToken.None);
        await File.WriteAllTextAsync(Path.Combine(directory, "report.html"), HtmlReport.Render(summary), CancellationToken.None);
        if (summaryExport is not null) await File.WriteAllTextAsync(summaryExport, json, CancellationToken.None);

        if (cli.Json)
        {
            await cli.Out.WriteLineAsync(json);
        }
        else
        {
            foreach (var line in TextReport.Lines(summary)) await cli.Out.WriteLineAsync(line);
            await cli.Out.WriteLineAsync($"report: {Path.Combine(directory, "report.html")}");
        }
        return summary.Verdict switch
        {
            "pass" => ExitCodes.Ok,
            "fail" => ExitCodes.GateBreached,
            _ => ExitCodes.GateInconclusive,
        };
    }

    private static TimeSpan Parse(string? text, TimeSpan fallback, string option) =>
        text is null ? fallback
        : Durations.TryParse(text, out var value) ? value
        : throw new CliException(ExitCodes.Usage, $"{option}: '{text}' is not a duration (e.g. 500ms, 30s, 5m).");

    /// <summary>The checkout: $PARLEY_REPO (set by ./parley), else the nearest directory up with Parley.slnx, else the current one.</summary>
    internal static string RepoRoot()
    {
        if (Environment.GetEnvironmentVariable(ParleyHome.RepoVariable) is { Length: > 0 } repo) return repo;
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Parley.slnx"))) return dir.FullName;
        return Directory.GetCurrentDirectory();
    }
}
