using Npgsql;
using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary>
/// Losing the primary (seed 004, recovery): the primary SIGKILLed, the replica promoted and the old primary cloned again as
/// the new replica; a write acknowledged under synchronous replication survives, clients on the multi-host strings and
/// PgBouncer follow, and stack.json describes the swapped roles.
/// </summary>
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
[Trait("Kind", "recovery")]
public sealed class FailoverTests
{
    [Fact]
    public async Task A_killed_primary_is_replaced_by_its_replica_with_every_acknowledged_write_and_the_roles_swap_back()
    {
        await using var stack = await LocalStack.StartAsync(new StackOptions { WithRedis = false, SynchronousReplica = true });
        var (primaryPort, replicaPort) = (stack.Primary.Port, stack.Replica!.Port);
        Assert.True(await stack.IsSynchronousAsync());
        await using var writes = NpgsqlDataSource.Create(stack.FollowingPrimaryConnectionString + ";Timeout=10;Command Timeout=10");
        await ExecuteAsync(writes, "CREATE TABLE acked (id int PRIMARY KEY)");
        // Acknowledged by a synchronous commit: on the replica's disk before the answer, so the SIGKILL right after cannot lose it.
        await ExecuteAsync(writes, "INSERT INTO acked SELECT generate_series(1, 100)");

        await stack.Primary.KillAsync();
        var report = await stack.FailoverAsync();

        Assert.False(report.PrimaryWasRunning);
        Assert.Equal((replicaPort, primaryPort), (stack.Primary.Port, stack.Replica.Port));
        Assert.Equal((replicaPort, primaryPort), (report.PrimaryPort, report.ReplicaPort));
        Assert.Equal(100L, await StackProbes.ScalarAsync(stack.PrimaryConnectionString, "SELECT count(*) FROM acked"));
        Assert.Equal(false, await StackProbes.ScalarAsync(stack.PrimaryConnectionString, "SELECT pg_is_in_recovery()"));
        Assert.Equal(true, await StackProbes.ScalarAsync(stack.ReplicaConnectionString!, "SELECT pg_is_in_recovery()"));
        Assert.True(await stack.IsSynchronousAsync());

        // The same data source, unchanged, finds the writable server (its old connections broke with the old primary).
        await EventuallyAsync(writes, "INSERT INTO acked VALUES (101)");
        await StackProbes.EventuallyAsync(
            async () => await StackProbes.ScalarAsync(stack.ReplicaConnectionString!, "SELECT count(*) FROM acked") is 101L,
            "the new replica has the write made after the failover");
        Assert.Equal("sync", await StackProbes.ScalarAsync(stack.PrimaryConnectionString, "SELECT string_agg(sync_state, ',') FROM pg_stat_replication"));
        await using (var reads = NpgsqlDataSource.Create(stack.FollowingReplicaConnectionString! + ";Timeout=10"))
        await using (var read = reads.CreateCommand("SELECT inet_server_port()"))
            Assert.Equal(primaryPort, await read.ExecuteScalarAsync());
        await StackProbes.EventuallyAsync(
            async () => await TryScalarAsync(stack.PgBouncerConnectionString!, "SELECT inet_server_port()") is int port && port == replicaPort,
            "PgBouncer reaches the new primary");

        var state = LocalStack.ReadState(stack.RootDirectory)!;
        var described = state.Components.ToDictionary(c => c.Name);
        Assert.Equal((replicaPort, primaryPort), (described["primary"].Port, described["replica"].Port));
        Assert.EndsWith("/replica", described["primary"].Directory, StringComparison.Ordinal);
        Assert.Equal(StackComponentState.Running, described["replica"].State);
        Assert.True(state.SynchronousReplica);

        // A planned switchover from another process's view (stack.json), back to the first roles.
        var back = await LocalStack.FailoverFromStateAsync(stack.RootDirectory);
        Assert.True(back.PrimaryWasRunning);
        Assert.Equal((primaryPort, replicaPort), (back.PrimaryPort, back.ReplicaPort));
        await EventuallyAsync(writes, "INSERT INTO acked VALUES (102)");
        Assert.Equal(102L, await StackProbes.ScalarAsync($"Host=127.0.0.1;Port={primaryPort};Username=parley;Database=parley", "SELECT count(*) FROM acked"));
        Assert.EndsWith("/primary", LocalStack.ReadState(stack.RootDirectory)!.Components.Single(c => c.Name == "primary").Directory, StringComparison.Ordinal);
    }

    private static async Task ExecuteAsync(NpgsqlDataSource source, string sql)
    {
        await using var command = source.CreateCommand(sql);
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>Retries while the data source still meets the old roles (broken pooled connections, a server not yet re-checked).</summary>
    private static Task EventuallyAsync(NpgsqlDataSource source, string sql) =>
        StackProbes.EventuallyAsync(async () =>
        {
            try
            {
                await ExecuteAsync(source, sql);
                return true;
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                return false;
            }
        }, $"'{sql}' succeeds through the multi-host data source");

    private static async Task<object?> TryScalarAsync(string connectionString, string sql)
    {
        try
        {
            return await StackProbes.ScalarAsync(connectionString, sql);
        }
        catch (NpgsqlException)
        {
            return null;
        }
    }
}
