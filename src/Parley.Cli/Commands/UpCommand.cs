using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data.Migrations;
using Parley.Kit.Stack;
using Parley.Observer.Rules;

namespace Parley.Cli.Commands;

/// <summary><c>parley up</c>: the local stack, migrations and the server in one command.</summary>
public static class UpCommand
{
    private static readonly TimeSpan DetachTimeout = TimeSpan.FromSeconds(90);
    private static readonly TimeSpan ObserverReadyTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ObserverStopGrace = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan BalancerCheckTimeout = TimeSpan.FromSeconds(60);

    public static Command Create(GlobalOptions global)
    {
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background (log in <root>/up.log); return once the server is ready." };
        var port = new Option<int>("--port") { Description = "The public HTTP port on 127.0.0.1, the balancer's (HAProxy); 0 picks a free one.", DefaultValueFactory = _ => 8080 };
        var nodes = new Option<int>("--nodes") { Description = "Server nodes behind the balancer (each on a free loopback port).", DefaultValueFactory = _ => 1 };
        var pgBouncer = new Option<bool>("--pgbouncer") { Description = "Send writes through PgBouncer (transaction mode) instead of straight to the primary." };
        var asyncReplica = new Option<bool>("--async-replica")
        {
            Description = "Commits do not wait for the replica (by default they do: synchronous replication, so `parley failover` after a lost primary loses no acknowledged write).",
        };
        var walArchive = new Option<bool>("--wal-archive")
        {
            Description = "Archive WAL into <data>/wal-archive for point-in-time recovery (`parley pitr backup`, `parley pitr restore --to TIME`); nothing prunes it.",
        };
        var redisMemory = new Option<int>("--redis-maxmemory")
        {
            Description = "Redis maxmemory in MB (policy noeviction: a full Redis refuses cache writes, never evicts the event stream).",
            DefaultValueFactory = _ => new StackOptions().RedisMaxMemoryMegabytes,
        };
        var admins = new Option<string[]>("--admin") { Description = "A handle granted the admin role in the database (held until it registers when new); repeatable. `parley load --flag` uses load_admin." };
        var observer = new Option<string?>("--observer") { Description = "Also run observer processes (`parley observer run`) with this rules file (OBSERVER.md); an invalid file fails `up` with its report (exit 2)." };
        var observers = new Option<int>("--observers") { Description = "How many observer processes with --observer (one leads, the others stand by).", DefaultValueFactory = _ => 1 };
        port.InRange(0, 65535);
        var prometheus = new Option<bool>("--prometheus") { Description = "Also run a Prometheus server (Debian's) that scrapes every node and observer every 5 s; its URL is printed (`parley canary run --prometheus URL`)." };
        nodes.InRange(1, 16);
        observers.InRange(1, 16);
        redisMemory.InRange(1, 1_048_576);

        var command = new Command("up", "Start PostgreSQL (primary + replica), PgBouncer and Redis, migrate, and run the server nodes behind HAProxy until Ctrl-C.")
        {
            detach, port, nodes, pgBouncer, asyncReplica, walArchive, redisMemory, admins, observer, observers, prometheus,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var rules = result.GetValue(observer) is { } file ? Path.GetFullPath(file) : null;
            if (rules is null && result.GetResult(observers) is { Implicit: false })
                throw new CliException(ExitCodes.Usage, "--observers needs --observer RULES.yaml.");
            if (rules is not null)
            {
                // Checked before anything starts: the same report as `parley observer config check`.
                var loaded = RulesFile.Load(rules, strict: false);
                if (!loaded.IsValid)
                {
                    await ObserverCommand.ReportAsync(cli, rules, loaded, alwaysSummarise: false);
                    return ExitCodes.Usage;
                }
            }
            var options = new UpOptions(
                result.GetValue(port), result.GetValue(nodes), result.GetValue(pgBouncer), !result.GetValue(asyncReplica), result.GetValue(walArchive), result.GetValue(redisMemory), result.GetValue(admins) ?? [],
                rules, rules is null ? 0 : result.GetValue(observers), result.GetValue(prometheus));
            return result.GetValue(detach) ? await DetachAsync(cli, options, ct) : await RunAsync(cli, options, ct);
        });
        return command;
    }

    private sealed record UpOptions(int Port, int Nodes, bool PgBouncer, bool SynchronousReplica, bool WalArchive, int RedisMaxMemory, IReadOnlyList<string> Admins, string? Rules, int Observers, bool Prometheus);

    private static async Task<int> DetachAsync(CliContext cli, UpOptions options, CancellationToken ct)
    {
        EnsureNothingRuns(cli.Home);
        string[] arguments =
        [
            "up", "--root", cli.Home.Root, "--port", $"{options.Port}", "--nodes", $"{options.Nodes}",
            "--redis-maxmemory", $"{options.RedisMaxMemory}",
            .. options.PgBouncer ? ["--pgbouncer"] : Array.Empty<string>(),
            .. options.SynchronousReplica ? Array.Empty<string>() : ["--async-replica"],
            .. options.WalArchive ? ["--wal-archive"] : Array.Empty<string>(),
            .. options.Prometheus ? ["--prometheus"] : Array.Empty<string>(),
            .. options.Admins.SelectMany(admin => new[] { "--admin", admin }),
            .. options.Rules is { } rules ? ["--observer", rules, "--observers", $"{options.Observers}"] : Array.Empty<string>(),
        ];
        var pid = Detacher.Launch(cli.Home, arguments);
        await cli.Err.WriteAsync($"Starting Parley in the background (pid {pid}, log {cli.Home.UpLogFile})");
        var url = await Detacher.WaitUntilReadyAsync(cli.Home, pid, DetachTimeout, cli.Err, ct);
        var instance = LocalInstance.Read(cli.Home);
        var data = instance.Stack?.DataDirectory;
        var prometheus = instance.Components.FirstOrDefault(c => c.Name == "prometheus") is { } p ? $"http://127.0.0.1:{p.Port}" : null;
        if (cli.Json)
        {
            cli.WriteJson(new { url, pid, log = cli.Home.UpLogFile, data, prometheus });
        }
        else
        {
            await cli.Out.WriteLineAsync($"Parley is up at {url}  (pid {pid}; `parley status`, stop with `parley down`)");
            if (prometheus is not null) await cli.Out.WriteLineAsync($"  prometheus: {prometheus}");
            await cli.Out.WriteLineAsync(DataLine(data));
        }
        return ExitCodes.Ok;
    }

    private static async Task<int> RunAsync(CliContext cli, UpOptions options, CancellationToken ct)
    {
        var exitCode = ExitCodes.Failure;
        try
        {
            exitCode = await RunCoreAsync(cli, options, ct);
            return exitCode;
        }
        catch (CliException e)
        {
            exitCode = e.ExitCode;
            throw;
        }
        catch (MissingBinaryException)
        {
            exitCode = ExitCodes.MissingBinary;
            throw;
        }
        finally
        {
            if (Detacher.IsDetachedChild && exitCode != ExitCodes.Ok)
                File.WriteAllText(cli.Home.UpExitFile, $"{exitCode}\n");
        }
    }

    private static async Task<int> RunCoreAsync(CliContext cli, UpOptions options, CancellationToken ct)
    {
        using var shutdown = new ShutdownSignal(ct);
        var home = cli.Home;
        if (!Detacher.IsDetachedChild)
            EnsureNothingRuns(home);
        home.Create();
        home.WriteUpPid(Environment.ProcessId);
        try
        {
            var signingKey = LocalSettings.LoadOrCreateSigningKey(home);
            await cli.Err.WriteLineAsync($"Starting the local stack in {home.Root} ...");
            var stackOptions = new StackOptions
            {
                RootDirectory = home.Root, Durable = true, RedisMaxMemoryMegabytes = options.RedisMaxMemory, SynchronousReplica = options.SynchronousReplica,
                WithPrometheus = options.Prometheus, WalArchive = options.WalArchive, Supervise = true,
            };
            await using var stack = await LocalStack.StartAsync(stackOptions, cli.Progress, shutdown.Token);

            await using (var primary = NpgsqlDataSource.Create(stack.PrimaryConnectionString))
            {
                var migrated = await Migrator.MigrateAsync(primary, cli.Progress, shutdown.Token);
                await cli.Err.WriteLineAsync($"Schema at version {migrated.ToVersion} ({migrated.Applied.Count} migration(s) applied).");
            }
            await AdminCommand.GrantForLocalStackAsync(cli, stack.PrimaryConnectionString, options.Admins, shutdown.Token);

            var settings = new Dictionary<string, string?>
            {
                ["Parley:Auth:SigningKey"] = signingKey,
                // Both servers by name with Target Session Attributes, so the nodes follow `parley failover` by themselves; PgBouncer
                // takes one address, and the failover re-points it.
                ["Parley:Data:PrimaryConnectionString"] = options.PgBouncer ? stack.PgBouncerConnectionString : stack.FollowingPrimaryConnectionString,
                ["Parley:Data:PgBouncerTransactionMode"] = options.PgBouncer ? "true" : "false",
                ["Parley:Data:ReplicaConnectionString"] = stack.FollowingReplicaConnectionString,
                ["Parley:Redis:Endpoint"] = stack.RedisEndpoint,
            };
            var apps = new List<WebApplication>();
            IReadOnlyList<ObserverProcess> observers = [];
            var served = false;
            try
            {
                // Even one node goes behind the balancer: one public URL, and the same path a cluster takes.
                for (var node = 0; node < options.Nodes; node++)
                    apps.Add(await ServerHost.StartAsync([], settings, "http://127.0.0.1:0", quiet: true, shutdown.Token));
                var nodes = apps.Select((app, i) => new BalancedNode(BalancedNode.NameOf(i), new Uri(ServerHost.Urls(app).First()).Port)).ToList();
                await stack.StartBalancerAsync(nodes, options.Port, shutdown.Token);
                // The printed URL answers at once: every node has passed a health check (HAProxy counts them up before the first).
                await stack.BalancerRuntime!.WaitUntilCheckedAsync(BalancerCheckTimeout, ct: shutdown.Token);
                var url = stack.BalancerUrl!.ToString().TrimEnd('/');
                if (options.Rules is { } rules)
                {
                    // Straight to the primary (replication cannot go through PgBouncer), in the environment rather than on the command line.
                    observers = ObserverProcesses.Start(home, rules, options.Observers, new Dictionary<string, string?>
                    {
                        ["Parley__Data__PrimaryConnectionString"] = stack.PrimaryConnectionString,
                        ["Parley__Redis__Endpoint"] = stack.RedisEndpoint,
                    });
                    await ObserverProcesses.WaitUntilReadyAsync(observers, ObserverReadyTimeout, shutdown.Token);
                }
                new ServerInfo(Environment.ProcessId, [url], nodes.Select(n => $"http://127.0.0.1:{n.Port}").ToList()).Write(home);
                if (stack.PrometheusUrl is not null)
                    stack.SetPrometheusTargets([.. nodes.Select(n => new Uri($"http://127.0.0.1:{n.Port}")), .. observers.Select(o => new Uri(o.Url))]);

                var started = string.Join(", ", stack.Components.Select(c => $"{c.Name} :{c.Port}"));
                await cli.Out.WriteLineAsync($"Parley is up at {url}  (Ctrl-C to stop)");
                await cli.Out.WriteLineAsync($"  started: {started}; {options.Nodes} server node(s) behind the balancer ({string.Join(", ", nodes.Select(n => $"{n.Name} :{n.Port}"))}){(options.PgBouncer ? ", writes through PgBouncer" : "")}");
                if (observers.Count > 0)
                    await cli.Out.WriteLineAsync($"  observers: {string.Join(", ", observers.Select(o => $"{o.Name} pid {o.Pid} at {o.Url}"))} (rules {options.Rules})");
                if (stack.PrometheusUrl is { } prometheusUrl)
                    await cli.Out.WriteLineAsync($"  prometheus: {prometheusUrl.ToString().TrimEnd('/')} scrapes the {options.Nodes} node(s){(observers.Count > 0 ? " and the observers" : "")} every 5 s");
                await cli.Out.WriteLineAsync(DataLine(stack.DataDirectory));
                await cli.Out.FlushAsync(CancellationToken.None);

                served = true;
                await ServerHost.RunUntilShutdownAsync(apps, shutdown.Token, () => DrainAsync(stack, nodes));
                await cli.Err.WriteLineAsync("Stopping the server, the observers and the local stack ...");
            }
            finally
            {
                // Before the stack: a clean stop releases the lease and the claims. observers.json also holds any started before a failure.
                await ObserverProcesses.StopAsync(ObserverProcesses.Read(home), ObserverStopGrace);
                if (!served) await ServerHost.StopAsync(apps);
            }
        }
        finally
        {
            if (home.ReadUpPid() == Environment.ProcessId)
                home.ClearServerFiles();
        }
        await cli.Out.WriteLineAsync("Parley stopped.");
        return ExitCodes.Ok;
    }

    /// <summary>
    /// Before the nodes stop: the balancer sends them nothing new (clients get its 503 + Retry-After), so the requests they
    /// finish are the ones they have; their sockets close with 1001. A balancer that no longer answers has nothing to drain.
    /// </summary>
    private static async Task DrainAsync(LocalStack stack, IReadOnlyList<BalancedNode> nodes)
    {
        try
        {
            foreach (var node in nodes)
                await stack.BalancerRuntime!.DrainAsync(node.Name);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or IOException or InvalidOperationException or OperationCanceledException)
        {
            // Stopping anyway.
        }
    }

    private static string DataLine(string? data) =>
        $"  data: {data} (kept by `parley down`; `parley backup FILE` saves it, `parley reset --yes` wipes it)";

    /// <summary>Refuses to start a second stack over a live one.</summary>
    private static void EnsureNothingRuns(ParleyHome home)
    {
        var instance = LocalInstance.Read(home);
        if (instance.AnyRunning)
        {
            var running = string.Join(", ", instance.Components.Where(c => c.Running).Select(c => $"{c.Name} (pid {c.Pid})"));
            throw new CliException(ExitCodes.AlreadyRunning,
                $"Parley already runs from {home.Root}: {running}{(instance.Url is { } url ? $" at {url}" : "")}. Stop it with `parley down`.");
        }
    }
}
