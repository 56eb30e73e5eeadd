using Microsoft.Extensions.Options;
using Npgsql;
using Parley.Server.Monitoring;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Observability;

namespace Parley.Server.Tests.Monitoring;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class QueryTimerTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Every_command_of_a_named_data_source_is_timed_by_query_name_and_logged_when_slow()
    {
        using var metrics = new MonitorMetrics();
        var logger = new TestLogger<QueryTimer>();
        // A zero threshold makes every query "slow", so the log is exercised without timing.
        using var timer = new QueryTimer(metrics.Meter, Options.Create(new MonitoringOptions { SlowQueryThreshold = TimeSpan.Zero }), logger);
        await timer.StartAsync(CancellationToken.None);
        string name = "test.timer_" + Guid.NewGuid().ToString("N")[..8];
        await using (var primary = new NpgsqlDataSourceBuilder(fixture.Stack.PrimaryConnectionString) { Name = "primary" }.Build())
        await using (var other = new NpgsqlDataSourceBuilder(fixture.Stack.PrimaryConnectionString) { Name = "tool" }.Build())
        {
            for (int i = 0; i < 3; i++)
            {
                await using var command = primary.CreateCommand($"-- name: {name}\nSELECT $1::int");
                command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = i });
                await command.ExecuteScalarAsync();
            }
            await using var ignored = other.CreateCommand($"-- name: {name}.other\nSELECT 1");
            await ignored.ExecuteScalarAsync();
        }

        string text = await Polling.UntilAsync(() =>
        {
            string scraped = metrics.Scrape();
            return Task.FromResult(scraped.Contains($"db_query_duration_seconds_count{{query=\"{name}\",source=\"primary\"}} 3\n", StringComparison.Ordinal) ? scraped : null);
        }, "three timed queries");

        Assert.DoesNotContain($"{name}.other", text, StringComparison.Ordinal);
        Assert.True(PrometheusAssert.Sample(text, $"db_query_duration_seconds_sum{{query=\"{name}\",source=\"primary\"}}") > 0);
        Assert.Equal(3, logger.Messages(4610).Count(m => m.Contains($"Slow query {name} on primary", StringComparison.Ordinal)));
    }

    [Fact]
    public void Query_names_past_the_cap_are_counted_as_other()
    {
        using var metrics = new MonitorMetrics();
        using var timer = new QueryTimer(metrics.Meter, Options.Create(new MonitoringOptions { MaxQueryNames = 2, SlowQueryThreshold = TimeSpan.FromHours(1) }), new TestLogger<QueryTimer>());
        foreach (string q in new[] { "a", "b", "c", "d", "a" })
            timer.Record($"-- name: q.{q}\nSELECT 1", "replica", TimeSpan.FromMilliseconds(3), failed: false);
        timer.Record("SELECT 1", "some other data source", TimeSpan.FromMilliseconds(3), failed: false);

        string text = metrics.Scrape();

        Assert.Contains("db_query_duration_seconds_count{query=\"q.a\",source=\"replica\"} 2\n", text, StringComparison.Ordinal);
        Assert.Contains("db_query_duration_seconds_count{query=\"q.b\",source=\"replica\"} 1\n", text, StringComparison.Ordinal);
        Assert.Contains("db_query_duration_seconds_count{query=\"other\",source=\"replica\"} 2\n", text, StringComparison.Ordinal);
        Assert.DoesNotContain("select ?", text, StringComparison.Ordinal);
    }
}
