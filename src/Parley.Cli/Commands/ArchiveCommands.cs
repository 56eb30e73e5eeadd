using System.CommandLine;
using System.Diagnostics;
using Parley.Cli.Local;
using Parley.Kit.Stack;
using Parley.Redis;
using Parley.Server.Caching;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley backup FILE</c> and <c>parley restore FILE</c>: pg_dump / pg_restore (custom format) of the running local
/// stack's database. A restore replaces the content in one transaction (nothing changes when it fails); the server keeps running.
/// </summary>
public static class ArchiveCommands
{
    private const int DefaultTimeoutSeconds = 600;

    public static Command Backup(GlobalOptions global) => Create(
        global, "backup", "Save the running local stack's database to FILE (pg_dump -Fc).",
        "Where to write the archive (pg_dump custom format); replaced if it exists.", BackupAsync);

    public static Command Restore(GlobalOptions global) => Create(
        global, "restore", "Replace the running local stack's database with FILE (pg_restore --clean, one transaction).",
        "An archive written by `parley backup` (pg_dump custom format).", RestoreAsync);

    private static Command Create(
        GlobalOptions global, string name, string description, string fileDescription, Func<CliContext, string, TimeSpan, CancellationToken, Task<int>> run)
    {
        var file = new Argument<string>("FILE") { Description = fileDescription };
        var timeout = new Option<int>("--timeout")
        {
            Description = "Seconds pg_dump / pg_restore may take before they are stopped.",
            DefaultValueFactory = _ => DefaultTimeoutSeconds,
        }.InRange(1, 86_400);
        var command = new Command(name, description) { file, timeout };
        command.SetHandler(global, (result, cli, ct) =>
            run(cli, Path.GetFullPath(result.GetValue(file)!), TimeSpan.FromSeconds(result.GetValue(timeout)), ct));
        return command;
    }

    private static async Task<int> BackupAsync(CliContext cli, string path, TimeSpan timeout, CancellationToken ct)
    {
        var connection = RunningPrimary(cli);
        if (Path.GetDirectoryName(path) is { } directory && !Directory.Exists(directory))
            throw new CliException(ExitCodes.Usage, $"cannot write {path}: {directory} does not exist.");
        await cli.Err.WriteLineAsync($"Saving the local database to {path} ...");
        var watch = Stopwatch.StartNew();
        long bytes;
        try
        {
            bytes = await DatabaseArchive.SaveAsync(connection, path, timeout, ct);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException or IOException or UnauthorizedAccessException)
        {
            throw new CliException(ExitCodes.Failure, $"backup failed: {e.Message}");
        }
        if (cli.Json)
            cli.WriteJson(new { file = path, bytes, seconds = Math.Round(watch.Elapsed.TotalSeconds, 1) });
        else
            await cli.Out.WriteLineAsync($"Saved {path} ({bytes:N0} bytes) in {watch.Elapsed.TotalSeconds:0.0} s; bring it back with `parley restore`.");
        return ExitCodes.Ok;
    }

    private static async Task<int> RestoreAsync(CliContext cli, string path, TimeSpan timeout, CancellationToken ct)
    {
        if (!File.Exists(path))
            throw new CliException(ExitCodes.Usage, $"{path} does not exist.");
        var connection = RunningPrimary(cli);
        await cli.Err.WriteLineAsync($"Restoring {path} into the local database (replacing its content) ...");
        var watch = Stopwatch.StartNew();
        int entries;
        try
        {
            entries = await DatabaseArchive.RestoreAsync(connection, path, timeout, ct);
        }
        catch (InvalidDataException e)
        {
            throw new CliException(ExitCodes.Usage, e.Message);
        }
        catch (Exception e) when (e is InvalidOperationException or TimeoutException)
        {
            throw new CliException(ExitCodes.Failure, $"restore failed, the database is unchanged: {e.Message}");
        }
        var cacheCleared = await ClearCacheAsync(cli, ct);
        if (cli.Json)
            cli.WriteJson(new { file = path, entries, cacheCleared, seconds = Math.Round(watch.Elapsed.TotalSeconds, 1) });
        else
            await cli.Out.WriteLineAsync($"Restored {path} ({entries} archive entries) in {watch.Elapsed.TotalSeconds:0.0} s"
                + (cacheCleared ? "; cached pages cleared." : "; Redis did not answer: cached pages expire within the cache TTL."));
        return ExitCodes.Ok;
    }

    /// <summary>Cached first pages would show the replaced content until their TTL: bump the cache epoch; false when Redis does not answer.</summary>
    private static async Task<bool> ClearCacheAsync(CliContext cli, CancellationToken ct)
    {
        if (LocalInstance.Read(cli.Home).Stack?.RedisEndpoint is not { } endpoint) return false;
        try
        {
            await using var redis = await RedisClient.ConnectAsync(new RedisOptions { Endpoint = endpoint }, cancellationToken: ct);
            await ReadCache.InvalidateEverythingAsync(redis, TimeSpan.FromSeconds(2), ct);
            return true;
        }
        catch (RedisException)
        {
            return false;
        }
    }

    /// <summary>The running local stack's primary, or a clear error when none runs from the root.</summary>
    private static string RunningPrimary(CliContext cli)
    {
        var instance = LocalInstance.Read(cli.Home);
        var primary = instance.Components.FirstOrDefault(c => c.Name == "primary");
        if (instance.Stack?.PrimaryConnectionString is not { } connection || primary is not { Running: true })
            throw new CliException(ExitCodes.Failure, $"no local stack runs from {cli.Home.Root}; start it with `parley up` (or `parley up --detach`) first.");
        return connection;
    }
}
