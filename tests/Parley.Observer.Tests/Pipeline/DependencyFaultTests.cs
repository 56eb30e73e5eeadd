using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>
/// Issue 11 item 3's dependency faults against the collection's real stack: PostgreSQL stopped under a running observer
/// (it stops reading, waits, resumes by itself, no event lost) and Redis stopped under one (every event still done once:
/// PostgreSQL's unique key is the dedup). Waits are bounded and generous; nothing is timed.
/// </summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class DependencyFaultTests(ObserverFixture fx) : ObserverTest(fx, "dep", "id serial PRIMARY KEY, note text")
{
    private static readonly TimeSpan Bound = TimeSpan.FromMinutes(2);

    private string Rules => $$$"""
        rules:
          - name: dep
            source: table:public.{{{Table}}}
            on: [insert]
            actions:
              - name: idx
                index: { name: dep, text: "{{data.note}}" }
                retry: [0s, 0s, 0s, 0s, 0s]
        """;

    private async Task InsertAsync(params string[] notes)
    {
        foreach (var note in notes) await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ($1)", note);
    }

    private Task AllDoneAsync(int count, string what) =>
        Wait.For(async () => (await Fx.QueueAsync(Name)) is { } rows && rows.Count == count && rows.All(r => r.Status == "succeeded"), what, Bound);

    private List<string> NotesCalled() => [.. Runner.Calls.Select(c => c.Event.Data["note"]!.GetValue<string>())];

    [Fact]
    public async Task With_postgresql_stopped_the_observer_stops_reading_and_after_its_restart_resumes_by_itself_with_no_event_lost()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);
        // Committed just before the stop: read or not yet, each must be done.
        await InsertAsync("a1", "a2", "a3");
        var primary = Fx.Stack.Primary;
        await primary.StopAsync();
        try
        {
            await Wait.For(() => Task.FromResult(!node.Identity.Streaming), "the observer to stop reading", Bound);
        }
        finally
        {
            await primary.StartAsync();
            Fx.Db.Clear(); // The pool's connections died with the server.
        }

        await Wait.For(() => Task.FromResult(node.Identity.Streaming), "the observer to read its slot again", Bound);
        await InsertAsync("b1", "b2", "b3");
        await AllDoneAsync(6, "every event's action done");

        // An attempt whose outcome could not be recorded during the outage may run again (never zero times).
        Assert.Equal(["a1", "a2", "a3", "b1", "b2", "b3"], NotesCalled().Distinct().Order(StringComparer.Ordinal));
        Assert.Equal(["b1", "b2", "b3"], NotesCalled().Where(n => n.StartsWith('b')).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task With_redis_stopped_every_event_is_done_once_and_after_an_observer_restart_none_is_done_again()
    {
        var redis = Fx.Stack.Redis!;
        var node = await Fx.StartAsync(Name, Rules, Runner);
        try
        {
            await redis.StopAsync();
            try
            {
                await InsertAsync("r1", "r2", "r3");
                await AllDoneAsync(3, "the actions done with Redis stopped");
                await node.DisposeAsync();
                // Read again from the slot's confirmed position without the fast path: the queue's unique key decides.
                node = await Fx.StartAsync(Name, Rules, Runner);
                await InsertAsync("r4");
                await AllDoneAsync(4, "the next event's action done by the restarted observer");
            }
            finally
            {
                await redis.StartAsync();
            }
            await InsertAsync("r5");
            await AllDoneAsync(5, "an event after Redis is back");
        }
        finally
        {
            await node.DisposeAsync();
        }

        Assert.Equal(["r1", "r2", "r3", "r4", "r5"], NotesCalled().Order(StringComparer.Ordinal));
    }
}
