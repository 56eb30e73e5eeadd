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
}
