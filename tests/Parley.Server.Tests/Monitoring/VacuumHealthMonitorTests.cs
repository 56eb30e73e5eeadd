using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Data;
using Parley.Server.Monitoring;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Observability;

namespace Parley.Server.Tests.Monitoring;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class VacuumHealthMonitorTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Dead_tuples_bloat_and_vacuum_age_are_read_exported_and_warned_about()
    {
        string table = "vac_" + Guid.NewGuid().ToString("N")[..12];
        // Autovacuum off for this table, so the dead tuples stay until the test vacuums them.
        await ExecuteAsync($"""
            CREATE TABLE {table} (id int PRIMARY KEY, body text) WITH (autovacuum_enabled = false);
            INSERT INTO {table} SELECT g, 'x' FROM generate_series(1, 2000) g;
            DELETE FROM {table} WHERE id > 500;
            """);
        try
        {
            using var metrics = new MonitorMetrics();
            var logger = new TestLogger<VacuumHealthMonitor>();
            await using var database = new ParleyDatabase(DataOptions.ForTool(fixture.Stack.PrimaryConnectionString));
            var options = new MonitoringOptions { VacuumTables = [table, "messages"], DeadTuplesWarning = 1_000, MinDeadTuplesToWarn = 100, BloatRatioWarning = 0.5 };
            var monitor = new VacuumHealthMonitor(database, Options.Create(options), metrics.Meter, logger);

            // Statistics reach pg_stat_user_tables when the writing backend flushes them.
            TableVacuumHealth health = await Polling.UntilAsync(async () =>
                (await monitor.PollAsync(CancellationToken.None)).SingleOrDefault(t => t.Table == table && t.DeadTuples >= 1_500), $"1,500 dead tuples in {table}");

            Assert.Contains(monitor.Latest, t => t.Table == "messages");
            Assert.Equal(500, health.LiveTuples);
            Assert.Equal(0.75, health.BloatRatio, 2);
            Assert.False(health.EverVacuumed);
            Assert.Contains(logger.Messages(4600), m => m.Contains(table, StringComparison.Ordinal) && m.Contains("dead_tuples", StringComparison.Ordinal));
            Assert.Contains(logger.Messages(4600), m => m.Contains(table, StringComparison.Ordinal) && m.Contains("bloat", StringComparison.Ordinal));
            string text = metrics.Scrape();
            Assert.True(PrometheusAssert.Sample(text, $"db_dead_tuples_count_value{{table=\"{table}\"}}") >= 1_500);
            Assert.Equal(0.75, PrometheusAssert.Sample(text, $"db_table_bloat_ratio{{table=\"{table}\"}}"), 2);
            // Never vacuumed: the age counts from the server's start, and is what the poll read.
            double ageBefore = PrometheusAssert.Sample(text, $"db_last_vacuum_seconds{{table=\"{table}\"}}");
            Assert.Equal(health.LastVacuumAge.TotalSeconds, ageBefore, 3);
            Assert.True(ageBefore > 0, $"last vacuum age {ageBefore} s");
            Assert.Contains($"db_live_tuples{{table=\"{table}\"}} 500", text, StringComparison.Ordinal);

            await ExecuteAsync($"VACUUM {table}");
            health = await Polling.UntilAsync(async () =>
                (await monitor.PollAsync(CancellationToken.None)).SingleOrDefault(t => t.Table == table && t.EverVacuumed && t.DeadTuples == 0), $"a vacuum of {table}");

            Assert.Equal(0, health.BloatRatio);
            double ageAfter = PrometheusAssert.Sample(metrics.Scrape(), $"db_last_vacuum_seconds{{table=\"{table}\"}}");
            Assert.True(ageAfter < ageBefore, $"after VACUUM the last vacuum age is {ageAfter} s, before it {ageBefore} s");
            Assert.Contains(logger.Messages(4601), m => m.Contains(table, StringComparison.Ordinal) && m.Contains("dead_tuples", StringComparison.Ordinal));
            Assert.Single(logger.Messages(4600), m => m.Contains(table, StringComparison.Ordinal) && m.Contains("dead_tuples", StringComparison.Ordinal));
        }
        finally
        {
            await ExecuteAsync($"DROP TABLE {table}");
        }
    }

    [Fact]
    public async Task The_hot_tables_carry_their_own_autovacuum_settings()
    {
        await using var source = fixture.OpenPrimary();
        await using var command = source.CreateCommand("""
            SELECT relname FROM pg_class
             WHERE relname = ANY(@tables) AND relkind = 'r'
               AND EXISTS (SELECT 1 FROM unnest(reloptions) o WHERE o LIKE 'autovacuum_vacuum_scale_factor=%')
            """);
        command.Parameters.Add(new NpgsqlParameter<string[]>("tables", ["messages", "conversations", "participants"]));
        var tuned = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
                tuned.Add(reader.GetString(0));
        }
        Assert.Equal(["conversations", "messages", "participants"], tuned.Order());
    }

    // Without pooling, the backend exits at close and so flushes its table statistics.
    private async Task ExecuteAsync(string sql)
    {
        await using var connection = new NpgsqlConnection(fixture.Stack.PrimaryConnectionString + ";Pooling=false");
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
