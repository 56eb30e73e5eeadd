using System.CommandLine;
using System.Globalization;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley pitr backup</c>, <c>parley pitr restore --to TIME</c> and <c>parley pitr prune</c>: point-in-time recovery of the local stack started with
/// <c>parley up --wal-archive</c> (a base backup, then the archived WAL replayed up to a moment; LocalStack.RecoverToAsync).
/// </summary>
public static class PitrCommand
{
    public static Command Create(GlobalOptions global) =>
        new("pitr", "Point-in-time recovery of the local stack (needs `parley up --wal-archive`): base backups and recovery to a moment.")
        {
            Backup(global),
            Restore(global),
            Prune(global),
        };

    private static Command Backup(GlobalOptions global)
    {
        var command = new Command("backup", "Take a base backup of the running stack's primary (pg_basebackup) into <data>/base-backups.");
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var path = await RunAsync(() => LocalStack.BaseBackupFromStateAsync(cli.Home.Root, cli.Progress, ct));
            if (cli.Json) cli.WriteJson(new { baseBackup = path });
            else await cli.Out.WriteLineAsync($"Base backup in {path}; WAL from here on is archived, so `parley pitr restore --to TIME` reaches any later moment.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Restore(GlobalOptions global)
    {
        var to = new Option<string>("--to")
        {
            Description = "The moment to go back to, e.g. \"2026-12-02 06:15:00Z\" (no zone: UTC). Commits up to it are kept, later ones are gone.",
            Required = true,
        };
        var from = new Option<string?>("--from") { Description = "The base backup to start from (default: the newest that finished before --to)." };
        var command = new Command("restore", "Replace the running stack's database with its state at --to: a base backup plus the archived WAL up to that moment; the replica is cloned again.")
        {
            to, from,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            if (!DateTimeOffset.TryParse(result.GetValue(to), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var target))
                throw new CliException(ExitCodes.Usage, $"--to: '{result.GetValue(to)}' is not a date and time (e.g. \"2026-12-02 06:15:00Z\").");
            var baseBackup = result.GetValue(from) is { } directory ? Path.GetFullPath(directory) : null;
            var used = await RunAsync(() => LocalStack.RecoverFromStateAsync(cli.Home.Root, target, baseBackup, cli.Progress, ct));
            if (cli.Json) cli.WriteJson(new { to = target, baseBackup = used });
            else await cli.Out.WriteLineAsync($"Recovered to {target:u} from {used}; the primary runs on a new timeline, the replica was cloned from it.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static Command Prune(GlobalOptions global)
    {
        var keep = new Option<int>("--keep") { Description = "How many of the newest base backups to keep (at least 1).", DefaultValueFactory = _ => 2 };
        var command = new Command("prune", "Delete all but the newest --keep base backups and the archived WAL before the oldest one kept (pg_archivecleanup).")
        {
            keep,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var count = result.GetValue(keep);
            if (count < 1)
                throw new CliException(ExitCodes.Usage, $"--keep: {count} would delete every base backup; keep at least 1.");
            var pruned = await RunAsync(() => LocalStack.PruneBaseBackupsFromStateAsync(cli.Home.Root, count, cli.Progress, ct));
            if (cli.Json) cli.WriteJson(pruned);
            else await cli.Out.WriteLineAsync(
                $"Kept {pruned.KeptBackups.Count} base backup(s), deleted {pruned.RemovedBackups.Count}; removed {pruned.ArchiveFilesRemoved} archived WAL file(s) " +
                $"({pruned.BytesFreed / (1024.0 * 1024):0.#} MB) before {pruned.OldestWalKept}. Recovery reaches back to {pruned.KeptBackups[^1]}.");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<T> RunAsync<T>(Func<Task<T>> action)
    {
        try
        {
            return await action();
        }
        catch (Exception e) when (e is InvalidOperationException or ArgumentException or TimeoutException or InvalidDataException or IOException)
        {
            throw new CliException(ExitCodes.Failure, e.Message);
        }
    }
}
