using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Observability;

namespace Parley.Server.Tests.Monitoring;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class MonitoringMetricsTests(ParleyFixture fixture)
{
    private static readonly string[] SeedNames =
    [
        "db_query_duration_seconds_bucket{",
        "pgbouncer_pool_saturation{",
        "pgbouncer_waiting_clients{",
        "pgbouncer_queue_wait_seconds{",
        "pgbouncer_avg_query_seconds{",
        "db_table_bloat_ratio{table=\"messages\"}",
        "db_dead_tuples_count_value{table=\"messages\"}",
        "db_last_vacuum_seconds{table=\"messages\"}",
        "db_pool_saturation{source=\"primary\"}",
        "db_client_connection_count_value{",
    ];

    [PromtoolFact]
    public async Task Metrics_after_traffic_carry_the_seed_names_and_pass_promtool()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync("metrics");
        var conversation = await api.CreateConversationAsync(owner);
        await api.SendMessageAsync(owner, conversation, "hello");
        await api.GetAsync(owner, $"/v1/conversations/{conversation}/messages");

        // The monitors' first polls run when the server starts; wait for them to land.
        string text = "";
        string[] missing = SeedNames;
        for (int attempt = 0; attempt < 100 && missing.Length > 0; attempt++)
        {
            if (attempt > 0)
                await Task.Delay(100);
            text = await api.Http.GetStringAsync("/metrics");
            missing = [.. SeedNames.Where(n => !text.Contains(n, StringComparison.Ordinal))];
        }
        Assert.True(missing.Length == 0, $"/metrics lacks {string.Join(", ", missing)}:\n{text}");

        (int exitCode, string output) = Promtool.CheckMetrics(text);
        Assert.True(exitCode == 0, $"promtool check metrics failed ({exitCode}):\n{output}\n--- output checked ---\n{text}");
        Assert.Contains("source=\"primary\"", text, StringComparison.Ordinal);
    }
}
