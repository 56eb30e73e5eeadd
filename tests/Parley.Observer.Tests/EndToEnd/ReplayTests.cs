using System.Net.Http.Json;
using Parley.Observer.Inspection;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>
/// Seed 003's E2E 3, cache effectiveness, as behaviour: a batch of 100 orders read again from the slot (same event
/// ids) enqueues nothing and runs nothing, and the Redis fast path, not PostgreSQL's unique key, recognised every one
/// of them, and no key is marked again. The speed-up is not asserted (no timing in this tier): the test writes both
/// processes' time per event (their <c>observer_stage_duration_seconds</c> summed, per stage too) and the ratio to its
/// output, for bench/results.
/// </summary>
[Collection(ObserverCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ReplayTests(ObserverFixture fx, Xunit.Abstractions.ITestOutputHelper output) : IAsyncLifetime
{
    private const int Orders = 100;
    private readonly string _name = ObserverFixture.NewName("r");
    private readonly TestRunner _runner = new();

    private string Table => $"orders_{_name}";

    private string Rules => $$$"""
        rules:
          - name: orders
            source: table:public.{{{Table}}}
            on: [insert]
            actions:
              - name: idx
                index: { name: orders, text: "{{data.note}}" }
        """;

    public Task InitializeAsync() => fx.ExecuteAsync($"CREATE TABLE {Table} (id serial PRIMARY KEY, note text)");

    public async Task DisposeAsync()
    {
        await fx.DropGroupAsync(_name);
        await fx.ExecuteAsync("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 || '_copy'", _name);
        await fx.ExecuteAsync($"DROP TABLE {Table}");
    }

    [Fact]
    public async Task A_replayed_batch_of_100_orders_is_answered_by_the_redis_fast_path_and_enqueues_and_runs_nothing()
    {
        await (await fx.StartAsync(_name, Rules, _runner)).DisposeAsync();
        double firstSeconds;
        // A copy of the slot from before the batch: reading from it again replays the same events with the same ids.
        await fx.ExecuteAsync("SELECT pg_copy_logical_replication_slot($1, $1 || '_copy')", _name);
        await using (var first = await fx.StartAsync(_name, Rules, _runner))
        {
            await fx.ExecuteAsync($"INSERT INTO {Table} (note) SELECT 'order ' || n FROM generate_series(1, {Orders}) AS n");
            await Wait.For(async () => (await fx.QueueAsync(_name)) is { Count: Orders } rows && rows.All(r => r.Status == "succeeded"), "the first batch done");
            Assert.Equal(0, (await StatusAsync(first)).DedupHits);
            var firstMetrics = await first.Http.GetStringAsync("/metrics");
            firstSeconds = StageSeconds(firstMetrics);
            output.WriteLine("first: " + string.Join(", ", StageLines(firstMetrics)));
        }
        await fx.ExecuteAsync("SELECT pg_drop_replication_slot($1)", _name);
        await fx.ExecuteAsync("SELECT pg_copy_logical_replication_slot($1 || '_copy', $1)", _name);
        var before = (await fx.QueueAsync(_name)).ToDictionary(r => r.EventId);

        await using var second = await fx.StartAsync(_name, Rules, _runner);
        await Wait.For(async () => (await StatusAsync(second)).EventsRead >= Orders, "the batch to be read again");

        var replay = await StatusAsync(second);
        Assert.Equal((Orders, Orders), (replay.EventsRead, replay.DedupHits));
        Assert.Contains($"observer_dedup_hits_total {Orders}", await second.Http.GetStringAsync("/metrics"));
        Assert.Equal(Orders, _runner.Calls.Count);
        var after = await fx.QueueAsync(_name);
        Assert.Equal(before.Keys.Order(), after.Select(r => r.EventId).Order());
        Assert.All(after, r => Assert.Equal((1, "succeeded"), (r.Attempts, r.Status)));
        var replayMetrics = await second.Http.GetStringAsync("/metrics");
        var replaySeconds = StageSeconds(replayMetrics);
        output.WriteLine("replay: " + string.Join(", ", StageLines(replayMetrics)));
        // Every replayed event's Redis key is already set, so the replay marks none again.
        Assert.DoesNotContain("stage=\"dedup_mark\"", replayMetrics);
        output.WriteLine(System.FormattableString.Invariant(
            $"E2E 3: first batch {firstSeconds * 1000 / Orders:0.000} ms per event, replayed batch {replaySeconds * 1000 / Orders:0.000} ms per event, ratio {firstSeconds / replaySeconds:0.0}x"));
    }

    /// <summary>
    /// The time a process spent on its event path: the sum over every stage of observer_stage_duration_seconds but
    /// <c>stream</c> (a delay between commit and read, not work of the process).
    /// </summary>
    private static double StageSeconds(string metrics) =>
        metrics.Split('\n').Where(l => l.StartsWith("observer_stage_duration_seconds_sum{", StringComparison.Ordinal) && !l.Contains("stage=\"stream\"", StringComparison.Ordinal))
            .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));

    private static IEnumerable<string> StageLines(string metrics) =>
        metrics.Split('\n').Where(l => l.StartsWith("observer_stage_duration_seconds_sum{", StringComparison.Ordinal) || l.StartsWith("observer_stage_duration_seconds_count{", StringComparison.Ordinal));

    private static async Task<InstanceStatus> StatusAsync(ObserverNode node) =>
        (await node.Http.GetFromJsonAsync<InstanceStatus>("/status", System.Text.Json.JsonSerializerOptions.Web))!;
}
