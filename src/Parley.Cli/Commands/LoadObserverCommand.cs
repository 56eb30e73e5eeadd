using System.CommandLine;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Parley.Cli.Local;
using Parley.Kit.Load.Observer;
using Parley.Observer.Hosting;
using Parley.Observer.Rules;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley load observer</c>: the observer's end-to-end run (<see cref="ObserverLoad"/>) against the stack <c>parley up</c>
/// runs from --root, with the observers as <c>parley observer run</c> processes of their own (or, with --in-process, in this
/// process), rows inserted by the kit or by pgbench. Exit 6 when a row's webhook was lost or duplicated or a signature was bad.
/// </summary>
public static class LoadObserverCommand
{
    private static readonly TimeSpan ReadyTimeout = TimeSpan.FromSeconds(60);

    public static Command Create(GlobalOptions global)
    {
        var d = new ObserverLoadOptions();
        var rate = new Option<double>("--rate") { Description = $"Rows inserted per second (default {d.Rate:N0}).", DefaultValueFactory = _ => d.Rate };
        var duration = new Option<string>("--duration") { Description = $"How long rows are inserted, e.g. 30s (default {d.Duration.TotalSeconds:0} s).", DefaultValueFactory = _ => "30s" };
        var listeners = new Option<int>("--listeners") { Description = "Observer processes of the group: one leads, the others stand by and run claimed actions (default 1).", DefaultValueFactory = _ => d.Listeners };
        var bytes = new Option<int>("--event-bytes") { Description = $"Bytes of text per row, so per event and webhook body (default {d.EventBytes}).", DefaultValueFactory = _ => d.EventBytes };
        var connections = new Option<int>("--connections") { Description = $"Database connections inserting (default {d.Connections}).", DefaultValueFactory = _ => d.Connections };
        var late = new Option<string>("--late") { Description = "A webhook later than this after its insert counts as late (default 100ms).", DefaultValueFactory = _ => "100ms" };
        var drain = new Option<string>("--drain") { Description = "How long webhooks may still arrive after the last insert before the missing count as lost (default 60s).", DefaultValueFactory = _ => "60s" };
        var inserter = new Option<Inserter>("--inserter") { Description = "What inserts the rows and the reference rows: kit (this process) or pgbench (a process of its own; default kit).", DefaultValueFactory = _ => d.Inserter };
        var rowsPerTx = new Option<int>("--rows-per-tx") { Description = "Rows per transaction (pgbench inserter only: INSERT ... SELECT FROM generate_series), so commits do not cap the event rate (default 1).", DefaultValueFactory = _ => d.RowsPerTransaction };
        var warmup = new Option<string>("--warmup") { Description = "How long rows go in at the rate before the measured ones, delivered and not counted (the new observer processes' JIT warm-up); 0s for none (default 10s).", DefaultValueFactory = _ => "10s" };
        var inProcess = new Option<bool>("--in-process") { Description = "Run the observers in this process (beside the receiver) instead of as `parley observer run` processes." };
        var reference = new Option<string>("--reference") { Description = "How long the same-run reference inserts unthrottled into a table no rule reads; 0s for none (default 10s).", DefaultValueFactory = _ => "10s" };
        var command = new Command("observer", "The observer end to end: rows inserted at a rate into a table of its own, one webhook rule, N observer processes (or in this process), a counting receiver on 127.0.0.1 that verifies signatures; reports delivered, lost, duplicated (per webhook-id), late, latency percentiles (insert -> received) and the same-run insert ceiling. Exit 6: a webhook lost, duplicated or badly signed.")
        {
            rate, duration, listeners, bytes, connections, late, drain, reference, inserter, rowsPerTx, warmup, inProcess,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var options = new ObserverLoadOptions
            {
                Rate = result.GetValue(rate),
                Duration = Parse(result.GetValue(duration)!, "--duration"),
                Listeners = result.GetValue(listeners),
                EventBytes = result.GetValue(bytes),
                Connections = result.GetValue(connections),
                LateAfter = Parse(result.GetValue(late)!, "--late"),
                Drain = Parse(result.GetValue(drain)!, "--drain"),
                Reference = Parse(result.GetValue(reference)!, "--reference"),
                Inserter = result.GetValue(inserter),
                RowsPerTransaction = result.GetValue(rowsPerTx),
                Warmup = Parse(result.GetValue(warmup)!, "--warmup"),
            };
            try
            {
                options.Validate();
            }
            catch (ArgumentOutOfRangeException e)
            {
                throw new CliException(ExitCodes.Usage, e.Message);
            }
            var stack = LocalInstance.Read(cli.Home).Stack;
            if (stack?.PrimaryConnectionString is not { } primary || stack.RedisEndpoint is not { } redis)
                throw new CliException(ExitCodes.Usage, $"No local stack runs from {cli.Home.Root}: start one with `parley up --detach`.");
            StartObservers start = result.GetValue(inProcess)
                ? (group, rules, n, token) => StartInProcessAsync(primary, redis, group, rules, n, token)
                : (group, rules, n, token) => StartProcessesAsync(primary, redis, group, rules, n, token);
            var run = await ObserverLoad.RunAsync(primary, start, options, cli.Progress, ct);
            if (cli.Json) await cli.Out.WriteLineAsync(JsonSerializer.Serialize(run, JsonSerializerOptions.Web));
            else foreach (var line in run.Lines()) await cli.Out.WriteLineAsync(line);
            return run.Passed ? ExitCodes.Ok : ExitCodes.GateBreached;
        });
        return command;
    }

    /// <summary>
    /// N <c>parley observer run</c> processes of one group (straight to the primary), listed and logging in a temporary
    /// root of their own (not the stack's observers.json); returns once every one answers and one leads.
    /// </summary>
    private static async Task<IObserverGroup> StartProcessesAsync(string primary, string redis, string group, string rulesYaml, int count, CancellationToken ct)
    {
        var loaded = RulesFile.Parse(rulesYaml, strict: true);
        if (!loaded.IsValid) throw new CliException(ExitCodes.Failure, string.Join(Environment.NewLine, loaded.Problems.Select(p => p.Format("load rules"))));
        var home = new ParleyHome(Directory.CreateTempSubdirectory("parley-load-observer-").FullName);
        var rulesFile = Path.Combine(home.Root, "rules.yaml");
        await File.WriteAllTextAsync(rulesFile, rulesYaml, ct);
        var started = new ProcessGroup(home);
        try
        {
            started.Observers = ObserverProcesses.Start(home, rulesFile, count, new Dictionary<string, string?>
            {
                ["Parley__Data__PrimaryConnectionString"] = primary,
                ["Parley__Redis__Endpoint"] = redis,
                ["Parley__Observer__Name"] = group,
                ["Parley__Observer__IndexMessages"] = "false",
                ["Logging__LogLevel__Default"] = "Warning",
            });
            await ObserverProcesses.WaitUntilReadyAsync(started.Observers, ReadyTimeout, ct);
            return started;
        }
        catch
        {
            await started.DisposeAsync();
            throw;
        }
    }

    private sealed class ProcessGroup(ParleyHome home) : IObserverGroup
    {
        public IReadOnlyList<ObserverProcess> Observers { get; set; } = [];

        public IReadOnlyList<int> ProcessIds => [.. Observers.Select(o => o.Pid)];

        public IReadOnlyList<Uri> MetricsUrls => [.. Observers.Select(o => new Uri(new Uri(o.Url), "/metrics"))];

        public async ValueTask DisposeAsync()
        {
            await ObserverProcesses.StopAsync(ObserverProcesses.Read(home), TimeSpan.FromSeconds(15));
            try
            {
                Directory.Delete(home.Root, recursive: true);
            }
            catch (IOException)
            {
                // a log still open; the temporary folder goes with the next clean-up
            }
        }
    }

    /// <summary>N observer hosts of one group in this process (straight to the primary); returns once one leads and reads the slot.</summary>
    private static async Task<IObserverGroup> StartInProcessAsync(string primary, string redis, string group, string rulesYaml, int count, CancellationToken ct)
    {
        var loaded = RulesFile.Parse(rulesYaml, strict: true);
        if (!loaded.IsValid) throw new CliException(ExitCodes.Failure, string.Join(Environment.NewLine, loaded.Problems.Select(p => p.Format("load rules"))));
        var apps = new List<WebApplication>();
        var stop = new Stopper(apps);
        try
        {
            for (var n = 0; n < count; n++)
            {
                var app = ObserverHost.Build(["--urls", "http://127.0.0.1:0"], loaded.Rules!, builder =>
                {
                    builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
                    {
                        ["Parley:Data:PrimaryConnectionString"] = primary,
                        ["Parley:Redis:Endpoint"] = redis,
                        ["Parley:Observer:Name"] = group,
                        ["Parley:Observer:IndexMessages"] = "false",
                    });
                    builder.Logging.SetMinimumLevel(LogLevel.Warning);
                });
                apps.Add(app);
                await app.StartAsync(ct);
            }
            var clock = System.Diagnostics.Stopwatch.StartNew();
            while (!apps.Any(a => a.Services.GetRequiredService<ObserverIdentity>().Streaming))
            {
                if (clock.Elapsed > ReadyTimeout) throw new CliException(ExitCodes.Failure, $"no observer of group {group} read its slot within {ReadyTimeout.TotalSeconds:0} s");
                await Task.Delay(100, ct);
            }
            return stop;
        }
        catch
        {
            await stop.DisposeAsync();
            throw;
        }
    }

    private sealed class Stopper(List<WebApplication> apps) : IObserverGroup
    {
        public IReadOnlyList<int> ProcessIds => [Environment.ProcessId];

        public IReadOnlyList<Uri> MetricsUrls =>
            [.. apps.Select(a => new Uri(new Uri(a.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>()
                .Features.Get<Microsoft.AspNetCore.Hosting.Server.Features.IServerAddressesFeature>()!.Addresses.First()), "/metrics"))];

        public async ValueTask DisposeAsync()
        {
            foreach (var app in apps)
            {
                await app.StopAsync(CancellationToken.None);
                await app.DisposeAsync();
            }
        }
    }

    private static TimeSpan Parse(string text, string option) =>
        Parley.Kit.Load.Engine.Durations.TryParse(text, out var value) ? value : throw new CliException(ExitCodes.Usage, $"{option}: '{text}' is not a duration (e.g. 500ms, 30s, 5m).");
}
