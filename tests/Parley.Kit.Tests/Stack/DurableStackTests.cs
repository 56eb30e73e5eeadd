using System.Collections.Concurrent;
using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary>A <see cref="StackOptions.Durable"/> stack, as <c>parley up</c> runs it: data, ports and the Redis AOF outlive a stop.</summary>
[Trait("Category", "Integration")]
public sealed class DurableStackTests
{
    [Fact]
    public async Task A_durable_stack_restarts_on_its_data_and_ports_past_a_stale_pid_file_and_reseeds_a_broken_replica()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-durable-").FullName;
        var options = new StackOptions { RootDirectory = root, Durable = true, WithPgBouncer = false };
        try
        {
            int[] ports;
            string data;
            await using (var first = await LocalStack.StartAsync(options))
            {
                ports = [.. first.Components.Select(c => c.Port)];
                data = first.DataDirectory;
                // What makes a 201 survive a SIGKILL: every commit is flushed to disk before it is acknowledged.
                foreach (var setting in new[] { "fsync", "synchronous_commit", "full_page_writes" })
                    Assert.Equal("on", await StackProbes.ScalarAsync(first.PrimaryConnectionString, $"SHOW {setting}"));
                await StackProbes.ScalarAsync(first.PrimaryConnectionString, "CREATE TABLE kept (id int); INSERT INTO kept VALUES (42)");
                Assert.Equal("+OK", await StackProbes.RedisAsync(first.RedisEndpoint!, "SET kept yes"));
            }
            Assert.True(Directory.Exists(data), "a durable stack keeps its data on stop");
            Assert.Null(LocalStack.ReadState(root));

            // A crash leaves postmaster.pid behind, and its pid may belong to another program by now: here, this test.
            await File.WriteAllTextAsync(Path.Combine(data, "primary", "postmaster.pid"), $"{Environment.ProcessId}\n{Path.Combine(data, "primary")}\n");
            File.Delete(Path.Combine(data, "replica", "global", "pg_control"));

            var progress = new ConcurrentQueue<string>();
            await using var second = await LocalStack.StartAsync(options, new Progress(progress.Enqueue));
            Assert.Equal(ports, second.Components.Select(c => c.Port));
            Assert.Equal(42, await StackProbes.ScalarAsync(second.PrimaryConnectionString, "SELECT id FROM kept"));
            Assert.Equal("$3\r\nyes", await StackProbes.RedisAsync(second.RedisEndpoint!, "GET kept"));
            Assert.Contains(progress, line => line.StartsWith("replica: cannot run on its old data", StringComparison.Ordinal) && line.EndsWith("re-seeding it", StringComparison.Ordinal));
            Assert.Equal(42, await StackProbes.ScalarAsync(second.ReplicaConnectionString!, "SELECT id FROM kept"));
            await second.StopAsync();

            Assert.Equal(data, LocalStack.DeleteDurableData(root));
            Assert.False(Directory.Exists(data));
            Assert.Null(LocalStack.DeleteDurableData(root));
        }
        finally
        {
            LocalStack.DeleteDurableData(root);
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task A_replica_whose_wal_the_primary_removed_while_it_was_down_is_reseeded_on_the_next_start()
    {
        var root = Directory.CreateTempSubdirectory("parley-kit-walgone-").FullName;
        var options = new StackOptions { RootDirectory = root, Durable = true, WithPgBouncer = false };
        try
        {
            await using (var first = await LocalStack.StartAsync(options))
            {
                await first.Replica!.StopAsync();
                // With no WAL kept for absent standbys, each switch fills a new 16 MB segment and the checkpoint removes
                // (or recycles under new names) every one the stopped replica still needs.
                await StackProbes.ScalarAsync(first.PrimaryConnectionString, "ALTER SYSTEM SET wal_keep_size = 0");
                await StackProbes.ScalarAsync(first.PrimaryConnectionString, "SELECT pg_reload_conf()");
                await StackProbes.ScalarAsync(first.PrimaryConnectionString, "CREATE TABLE written_while_down (id int)");
                for (var segment = 0; segment < 12; segment++)
                {
                    await StackProbes.ScalarAsync(first.PrimaryConnectionString, $"INSERT INTO written_while_down VALUES ({segment})");
                    await StackProbes.ScalarAsync(first.PrimaryConnectionString, "SELECT pg_switch_wal()");
                }
                await StackProbes.ScalarAsync(first.PrimaryConnectionString, "CHECKPOINT");
            }

            var progress = new ConcurrentQueue<string>();
            await using var second = await LocalStack.StartAsync(options, new Progress(progress.Enqueue));
            Assert.Contains(progress, line => line.StartsWith("replica: cannot run on its old data", StringComparison.Ordinal) && line.EndsWith("re-seeding it", StringComparison.Ordinal));
            Assert.Equal(12L, await StackProbes.ScalarAsync(second.ReplicaConnectionString!, "SELECT count(*) FROM written_while_down"));
        }
        finally
        {
            LocalStack.DeleteDurableData(root);
            Directory.Delete(root, recursive: true);
        }
    }

    private sealed class Progress(Action<string> report) : IProgress<string>
    {
        public void Report(string value) => report(value);
    }
}
