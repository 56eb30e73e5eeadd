using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary>The observer reads the primary's WAL through a logical replication slot; the stack must allow it on old data too.</summary>
[Trait("Category", "Integration")]
public sealed class LogicalDecodingStackTests
{
    [Fact]
    public async Task Data_made_before_logical_decoding_runs_with_it_on_the_next_start_and_its_replica_still_streams()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-logical-").FullName;
        var options = new StackOptions { RootDirectory = root, Durable = true, WithPgBouncer = false, WithRedis = false };
        try
        {
            string data;
            await using (var first = await LocalStack.StartAsync(options))
                data = first.DataDirectory;
            // What a data directory initialised by an earlier Parley says in postgresql.conf.
            await File.AppendAllTextAsync(Path.Combine(data, "primary", "postgresql.conf"), "\nwal_level = replica\nmax_wal_senders = 5\n");

            await using var second = await LocalStack.StartAsync(options);
            Assert.Equal("logical", await StackProbes.ScalarAsync(second.PrimaryConnectionString, "SHOW wal_level"));
            Assert.Equal("20", await StackProbes.ScalarAsync(second.PrimaryConnectionString, "SHOW max_replication_slots"));
            Assert.Equal("20", await StackProbes.ScalarAsync(second.ReplicaConnectionString!, "SHOW max_wal_senders"));
            // Refused below wal_level = logical.
            await StackProbes.ScalarAsync(second.PrimaryConnectionString, "SELECT pg_create_logical_replication_slot('kit_probe', 'pgoutput')");
            await StackProbes.ScalarAsync(second.PrimaryConnectionString, "SELECT pg_drop_replication_slot('kit_probe')");
            await StackProbes.ScalarAsync(second.PrimaryConnectionString, "CREATE TABLE seen (id int)");
            await WaitForReplicaAsync(second);
        }
        finally
        {
            LocalStack.DeleteDurableData(root);
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task WaitForReplicaAsync(LocalStack stack)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!Equals(await StackProbes.ScalarAsync(stack.ReplicaConnectionString!, "SELECT count(*)::int FROM pg_class WHERE relname = 'seen'"), 1))
        {
            Assert.True(DateTime.UtcNow < deadline, "the replica did not replay the primary's table within 30 s");
            await Task.Delay(50);
        }
    }
}
