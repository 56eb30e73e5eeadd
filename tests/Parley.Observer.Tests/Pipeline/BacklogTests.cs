using System.Diagnostics;
using System.Globalization;
using Parley.Observer.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>
/// Seed 003's "large checkpoint handling (1M+ events)": a million rows written in one transaction while
/// no observer runs, then read from the checkpoint. Nightly (minutes on this machine); the row count
/// comes from PARLEY_OBSERVER_BACKLOG for a quicker run.
/// </summary>
[Trait("Category", "Nightly")]
[Collection(ObserverCollection.Name)]
public sealed class BacklogTests(ObserverFixture fx, ITestOutputHelper output) : ObserverTest(fx, "backlog", "id serial PRIMARY KEY, note text")
{

    private static int Rows => int.TryParse(Environment.GetEnvironmentVariable("PARLEY_OBSERVER_BACKLOG"), CultureInfo.InvariantCulture, out var n) ? n : 1_000_000;

    [Fact]
    public async Task A_million_events_behind_the_checkpoint_are_each_enqueued_and_done_exactly_once()
    {
        var rules = $$$"""
            rules:
              - name: backlog
                source: table:public.{{{Table}}}
                actions:
                  - name: idx
                    index: { name: backlog, text: "{{data.note}}" }
            """;
        await (await Fx.StartAsync(Name, rules, Runner)).DisposeAsync();
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) SELECT 'n' || g FROM generate_series(1, {Rows}) g");

        var clock = Stopwatch.StartNew();
        await using var node = await Fx.StartAsync(Name, rules, Runner, new Dictionary<string, string?> { ["Parley:Observer:MaxConcurrentActions"] = "64" });
        await Wait.For(async () => await Fx.ScalarAsync<long>("SELECT count(*) FROM observer_actions WHERE observer = $1", Name) == Rows,
            $"{Rows} actions enqueued", TimeSpan.FromMinutes(30));
        var enqueued = clock.Elapsed;
        await Wait.For(async () => await Fx.ScalarAsync<long>("SELECT count(*) FROM observer_actions WHERE observer = $1 AND status = 'succeeded'", Name) == Rows,
            $"{Rows} actions done", TimeSpan.FromMinutes(30));
        output.WriteLine($"{Rows} events enqueued in {enqueued.TotalSeconds:0.0} s; enqueued and done in {clock.Elapsed.TotalSeconds:0.0} s ({Rows / clock.Elapsed.TotalSeconds:0} events/s)");

        Assert.Equal(Rows, await Fx.ScalarAsync<long>("SELECT count(DISTINCT event_id) FROM observer_actions WHERE observer = $1", Name));
        Assert.Equal(Rows, Runner.Calls.Count);
        Assert.Equal(Rows, Runner.Calls.Select(c => c.WebhookId).Distinct().Count());
    }
}
