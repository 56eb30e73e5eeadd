using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

/// <summary>A rules file that names a table before it exists: the other rules run meanwhile, and no row of it is lost.</summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class LateTableTests(ObserverFixture fx) : ObserverTest(fx, "present", "id serial PRIMARY KEY, note text NOT NULL")
{
    private string Late => $"late_{Name}";

    private string Rules => $$$"""
        rules:
          - name: present
            source: table:public.{{{Table}}}
            on: [insert]
            actions:
              - name: idx
                index: { name: present, text: "{{data.note}}" }
          - name: late
            source: table:public.{{{Late}}}
            on: [insert, update]
            actions:
              - name: idx
                index: { name: late, text: "{{data.note}}" }
        """;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Fx.ExecuteAsync($"DROP TABLE IF EXISTS {Late}");
    }

    private List<string> LateNotes() =>
        [.. Runner.Calls.Where(c => c.Rule == "late").Select(c => $"{c.Event.Type}:{c.Event.Data["note"]!.GetValue<string>()}").Order(StringComparer.Ordinal)];

    [Fact]
    public async Task A_rule_table_that_does_not_exist_yet_holds_up_no_other_rule_and_every_row_written_once_it_exists_arrives_once()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);

        // Before: a missing table failed the whole session, so this event never came.
        await Fx.ExecuteAsync($"INSERT INTO {Table} (note) VALUES ('while the other is missing')");
        await Wait.For(() => Runner.Calls.Any(c => c.Rule == "present"), "the present table's event while the other table is missing");

        // Rows written in the creating transaction and at once after it, before the observer has added the table.
        await Fx.ExecuteAsync(
            $"CREATE TABLE {Late} (id serial PRIMARY KEY, note text NOT NULL, total numeric, paid boolean, tags jsonb); " +
            $"INSERT INTO {Late} (note, total, paid, tags) VALUES ('in the create', 12.50, true, '[\"a\"]')");
        await Fx.ExecuteAsync($"INSERT INTO {Late} (note) VALUES ('right after')");
        await Wait.For(() => LateNotes().Count >= 2, "the two rows written before the table was added");
        // And the stream carries the table from then on.
        await Fx.ExecuteAsync($"UPDATE {Late} SET note = 'updated' WHERE note = 'right after'");
        await Wait.For(() => LateNotes().Count >= 3, "the update after the table was added");
        await Wait.For(async () => (await Fx.QueueAsync(Name)).All(r => r.Status == "succeeded"), "every queued action done");

        Assert.Equal(["insert:in the create", "insert:right after", "update:updated"], LateNotes());
        Assert.All(Runner.Calls.GroupBy(c => c.WebhookId), g => Assert.Single(g));
        // A backfilled row has the shape a streamed one has: values by column type.
        var first = Runner.Calls.Single(c => c.Rule == "late" && c.Event.Data["note"]!.GetValue<string>() == "in the create").Event;
        Assert.Equal(($"table:public.{Late}", 1, 12.50m, true), (first.Source, first.Data["id"]!.GetValue<int>(), first.Data["total"]!.GetValue<decimal>(), first.Data["paid"]!.GetValue<bool>()));
        Assert.Equal("a", first.Data["tags"]![0]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{16}-[0-9]+$", first.Id);
        Assert.True(await Fx.ScalarAsync<bool>(
            "SELECT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = $1 AND tablename = $2)", $"{Name}_tables", Late), "the table is in the publication");
    }
}
