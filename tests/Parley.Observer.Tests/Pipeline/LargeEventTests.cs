using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>
/// Seed 003's large events (issue 11 item 4) at the default <c>MaxEventBytes</c> (1 MiB): events of 100 KB are delivered
/// whole with the checkpoint passing them; one row of 100 MB has its action dead-lettered <c>too_large</c> without the
/// observer keeping its value, and the stream goes on. Latency is not asserted.
/// </summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class LargeEventTests(ObserverFixture fx) : ObserverTest(fx, "big", "id serial PRIMARY KEY, note text")
{
    private const int LargeBytes = 100 * 1024 * 1024;

    // Generous: 100 MB through the WAL and the walsender on a loaded 2-core machine.
    private static readonly TimeSpan Settles = TimeSpan.FromMinutes(3);

    private string Rules => $$$"""
        rules:
          - name: big
            source: table:public.{{{Table}}}
            on: [insert]
            actions:
              - name: idx
                index: { name: big, text: "{{data.id}}" }
                retry: [0s]
        """;

    [Fact]
    public async Task Fifty_events_of_100_KB_are_each_delivered_once_and_whole_and_the_checkpoint_passes_the_last()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);
        var notes = Enumerable.Range(0, 50).Select(i => $"{i:D3}" + new string((char)('a' + i % 26), 100_000 - 3)).ToList();

        foreach (var note in notes) await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ($1)", note);
        var afterInserts = await Fx.ScalarAsync<long>("SELECT (pg_current_wal_flush_lsn() - '0/0')::numeric::bigint");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 50 } rows && rows.All(r => r.Status == "succeeded"), "the 50 actions to succeed", Settles);

        Assert.Equal(notes, Runner.Calls.Select(c => c.Event.Data["note"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        Assert.All((await Fx.QueueAsync(Name)).GroupBy(r => r.EventId), g => Assert.Equal(1, Runner.CallsOf($"{g.Key}.big.idx")));
        // The checkpoint (and the slot's confirmed position behind it) moves past the commit of the last insert.
        await Wait.For(async () => await Fx.ScalarAsync<long>(
            "SELECT (lsn - '0/0')::numeric::bigint FROM observer_checkpoints WHERE observer = $1", Name) >= afterInserts, "the checkpoint to pass the inserts", Settles);
        await Wait.For(async () => await Fx.ScalarAsync<long>(
            "SELECT (confirmed_flush_lsn - '0/0')::numeric::bigint FROM pg_replication_slots WHERE slot_name = $1", Name) >= afterInserts, "the slot to confirm the inserts", Settles);
    }

    [Fact]
    public async Task A_row_of_100_MB_is_dead_lettered_too_large_without_the_observer_keeping_it_and_the_next_event_is_delivered()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ('before')");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is [{ Status: "succeeded" }], "the first event's action", Settles);
        var baseline = GC.GetTotalMemory(forceFullCollection: true);

        // Made by the server, so only the observer's read brings the value into this process.
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES (repeat('x', {LargeBytes}))");
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ('after')");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 3 } rows && rows.All(r => r.Status is "dead" or "succeeded"), "the three events' actions to be settled", Settles);

        var rows = await Fx.QueueAsync(Name);
        Assert.Equal([("succeeded", null), ("dead", "too_large"), ("succeeded", null)], rows.Select(r => (r.Status, r.DeadReason)));
        Assert.Equal(["before", "after"], Runner.Calls.Select(c => c.Event.Data["note"]!.GetValue<string>()));
        // The dead letter keeps the event's id, source and type, not its 100 MB.
        Assert.True(await Fx.ScalarAsync<int>($"SELECT length(event::text) FROM observer_actions WHERE observer = $1 AND dead_reason = 'too_large'", Name) < 1024);
        Assert.True((await node.HealthAsync())["streaming"]!.GetValue<bool>());
        // Nothing of the value is held once it was passed (a grown read buffer or a kept string would be >= 100 MB).
        var retained = GC.GetTotalMemory(forceFullCollection: true) - baseline;
        Assert.True(retained < LargeBytes / 4, $"{retained:N0} bytes more are retained after the 100 MB row than before it");
    }
}
