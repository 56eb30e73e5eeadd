using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary>
/// Point-in-time recovery (seed 004, recovery): a base backup, the archived WAL after it, and a named moment; what was committed
/// by then is back, what came after is gone, on the primary and the re-seeded replica alike.
/// </summary>
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "recovery")]
public sealed class PointInTimeRecoveryTests
{
    [Fact]
    public async Task Recovery_to_a_noted_moment_keeps_what_was_written_before_it_and_drops_what_came_after()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithPgBouncer = false, WithRedis = false, WalArchive = true });
        var primary = stack.PrimaryConnectionString;
        await StackProbes.ScalarAsync(primary, "CREATE TABLE notes (name text PRIMARY KEY)");
        var backup = await stack.BaseBackupAsync();

        await StackProbes.ScalarAsync(primary, "INSERT INTO notes VALUES ('A')");
        var noted = (DateTime)(await StackProbes.ScalarAsync(primary, "SELECT clock_timestamp()"))!;
        await StackProbes.ScalarAsync(primary, "INSERT INTO notes VALUES ('B')");
        // B's segment completed and archived: the recovery reads nothing but the archive.
        var segment = (string)(await StackProbes.ScalarAsync(primary, "SELECT pg_walfile_name(pg_switch_wal())"))!;
        await StackProbes.EventuallyAsync(
            async () => await StackProbes.ScalarAsync(primary, $"SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver") is true,
            $"{segment} is archived");

        await stack.RecoverToAsync(backup, new DateTimeOffset(DateTime.SpecifyKind(noted, DateTimeKind.Utc)));

        Assert.Equal(primary, stack.PrimaryConnectionString);
        Assert.Equal("A", await StackProbes.ScalarAsync(primary, "SELECT string_agg(name, ',' ORDER BY name) FROM notes"));
        Assert.Equal(false, await StackProbes.ScalarAsync(primary, "SELECT pg_is_in_recovery()"));
        Assert.Equal(StackComponentState.Running, stack.Replica!.State);
        // Writable, on a new timeline, and the replica cloned from it follows.
        await StackProbes.ScalarAsync(primary, "INSERT INTO notes VALUES ('C')");
        await StackProbes.EventuallyAsync(
            async () => await StackProbes.ScalarAsync(stack.ReplicaConnectionString!, "SELECT string_agg(name, ',' ORDER BY name) FROM notes") is "A,C",
            "the re-seeded replica holds A and C, not B");
        Assert.True((int)(await StackProbes.ScalarAsync(primary, "SELECT timeline_id FROM pg_control_checkpoint()"))! >= 1);
    }

    [Fact]
    public async Task Pruning_keeps_the_newest_backups_and_the_archived_wal_they_need()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false, WithRedis = false, WalArchive = true });
        var primary = stack.PrimaryConnectionString;
        var backups = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            backups.Add(await stack.BaseBackupAsync());
            // A completed, archived segment after each backup: something older than the next backup to prune.
            var segment = (string)(await StackProbes.ScalarAsync(primary, "SELECT pg_walfile_name(pg_switch_wal())"))!;
            await StackProbes.EventuallyAsync(
                async () => await StackProbes.ScalarAsync(primary, $"SELECT coalesce(last_archived_wal >= '{segment}', false) FROM pg_stat_archiver") is true,
                $"{segment} is archived");
        }
        var archive = Path.Combine(stack.DataDirectory, "wal-archive");
        var startOfSecond = File.ReadLines(Path.Combine(backups[1], "backup_label")).First(l => l.StartsWith("START WAL LOCATION", StringComparison.Ordinal))[^25..^1];

        var pruned = await stack.PruneBaseBackupsAsync(keep: 2);

        Assert.Equal([backups[0]], pruned.RemovedBackups);
        Assert.Equal([backups[2], backups[1]], pruned.KeptBackups);
        Assert.False(Directory.Exists(backups[0]));
        Assert.True(Directory.Exists(backups[1]) && Directory.Exists(backups[2]));
        Assert.Equal(startOfSecond, pruned.OldestWalKept);
        Assert.True(pruned.ArchiveFilesRemoved > 0, "nothing was removed from the archive");
        var segments = Directory.EnumerateFiles(archive).Select(Path.GetFileName).Where(name => name!.Length == 24).ToList();
        // Segments are compared without their timeline (the first 8 digits), as pg_archivecleanup does.
        Assert.DoesNotContain(segments, name => string.CompareOrdinal(name![8..], startOfSecond[8..]) < 0);
        Assert.Contains(startOfSecond, segments);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => stack.PruneBaseBackupsAsync(keep: 0));
    }
}
