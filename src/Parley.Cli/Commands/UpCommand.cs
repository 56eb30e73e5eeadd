using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data.Migrations;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary><c>parley up</c>: the local stack, migrations and the server in one command.</summary>
public static class UpCommand
{
    private static readonly TimeSpan DetachTimeout = TimeSpan.FromSeconds(90);

    public static Command Create(GlobalOptions global)
    {
        var detach = new Option<bool>("--detach", "-d") { Description = "Run in the background (log in <root>/up.log); return once the server is ready." };
        var port = new Option<int>("--port") { Description = "HTTP port of the first node on 127.0.0.1; 0 picks a free one.", DefaultValueFactory = _ => 8080 };
        var nodes = new Option<int>("--nodes") { Description = "Server nodes to run (on consecutive ports).", DefaultValueFactory = _ => 1 };
        var pgBouncer = new Option<bool>("--pgbouncer") { Description = "Send writes through PgBouncer (transaction mode) instead of straight to the primary." };
        var redisMemory = new Option<int>("--redis-maxmemory")
        {
            Description = "Redis maxmemory in MB (policy noeviction: a full Redis refuses cache writes, never evicts the event stream).",
            DefaultValueFactory = _ => new StackOptions().RedisMaxMemoryMegabytes,
        };
        var admins = new Option<string[]>("--admin") { Description = "A handle granted the admin role in the database (held until it registers when new); repeatable. `parley load --flag` uses load_admin." };
        port.InRange(0, 65535);
        nodes.InRange(1, 16);
        redisMemory.InRange(1, 1_048_576);

        var command = new Command("up", "Start PostgreSQL (primary + replica), PgBouncer and Redis, migrate, and run the server until Ctrl-C.")
        {
            detach, port, nodes, pgBouncer, redisMemory, admins,
        };
        command.SetHandler(global, (result, cli, ct) =>
        {
            var options = new UpOptions(
                result.GetValue(port), result.GetValue(nodes), result.GetValue(pgBouncer), result.GetValue(redisMemory), result.GetValue(admins) ?? []);
            return result.GetValue(detach) ? DetachAsync(cli, options, ct) : RunAsync(cli, options, ct);
        });
        return command;
    }

    private sealed record UpOptions(int Port, int Nodes, bool PgBouncer, int RedisMaxMemory, IReadOnlyList<string> Admins);

    private static async Task<int> DetachAsync(CliContext cli, UpOptions options, CancellationToken ct)
    {
        EnsureNothingRuns(cli.Home);
        string[] arguments =
        [
            "up", "--root", cli.Home.Root, "--port", $"{options.Port}", "--nodes", $"{options.Nodes}",
            "--redis-maxmemory", $"{options.RedisMaxMemory}",
            .. options.PgBouncer ? ["--pgbouncer"] : Array.Empty<string>(),
            .. options.Admins.SelectMany(admin => new[] { "--admin", admin }),
        ];
        var pid = Detacher.Launch(cli.Home, arguments);
        await cli.Err.WriteAsync($"Starting Parley in the background (pid {pid}, log {cli.Home.UpLogFile})");
        var url = await Detacher.WaitUntilReadyAsync(cli.Home, pid, DetachTimeout, cli.Err, ct);
        var data = LocalInstance.Read(cli.Home).Stack?.DataDirectory;
        if (cli.Json)
        {
            cli.WriteJson(new { url, pid, log = cli.Home.UpLogFile, data });
        }
        else
        {
            await cli.Out.WriteLineAsync($"Parley is up at {url}  (pid {pid}; `parley status`, stop with `parley down`)");
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
            var stackOptions = new StackOptions { RootDirectory = home.Root, Durable = true, RedisMaxMemoryMegabytes = options.RedisMaxMemory };
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
                ["Parley:Data:PrimaryConnectionString"] = options.PgBouncer ? stack.PgBouncerConnectionString : stack.PrimaryConnectionString,
                ["Parley:Data:PgBouncerTransactionMode"] = options.PgBouncer ? "true" : "false",
                ["Parley:Data:ReplicaConnectionString"] = stack.ReplicaConnectionString,
                ["Parley:Redis:Endpoint"] = stack.RedisEndpoint,
            };
            var apps = new List<WebApplication>();
            try
            {
                for (var node = 0; node < options.Nodes; node++)
                {
                    var port = options.Port == 0 ? 0 : options.Port + node;
                    apps.Add(await ServerHost.StartAsync([], settings, $"http://127.0.0.1:{port}", quiet: true, shutdown.Token));
                }
            }
            catch
            {
                await ServerHost.StopAsync(apps);
                throw;
            }
            var urls = apps.Select(app => ServerHost.Urls(app).First()).ToList();
            new ServerInfo(Environment.ProcessId, urls).Write(home);

            var started = string.Join(", ", stack.Components.Select(c => $"{c.Name} :{c.Port}"));
            await cli.Out.WriteLineAsync($"Parley is up at {string.Join(" ", urls)}  (Ctrl-C to stop)");
            await cli.Out.WriteLineAsync($"  started: {started}; {options.Nodes} server node(s){(options.PgBouncer ? ", writes through PgBouncer" : "")}");
            await cli.Out.WriteLineAsync(DataLine(stack.DataDirectory));
            await cli.Out.FlushAsync(CancellationToken.None);

            await ServerHost.RunUntilShutdownAsync(apps, shutdown.Token);
            await cli.Err.WriteLineAsync("Stopping the server and the local stack ...");
        }
        finally
        {
            if (home.ReadUpPid() == Environment.ProcessId)
                home.ClearServerFiles();
        }
        await cli.Out.WriteLineAsync("Parley stopped.");
        return ExitCodes.Ok;
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
