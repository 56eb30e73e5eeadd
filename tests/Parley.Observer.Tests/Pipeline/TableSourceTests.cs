using System.Text.Json.Nodes;
using Parley.Observer.Actions;
using Parley.Observer.Tests.Infrastructure;
using Parley.Observer.Tests.Rules;

namespace Parley.Observer.Tests.Pipeline;

[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class TableSourceTests(ObserverFixture fx) : ObserverTest(fx, "orders", "id serial PRIMARY KEY, total numeric NOT NULL, status text, note text, paid boolean")
{

    private string Rules => $$$"""
        rules:
          - name: big-orders
            source: table:public.{{{Table}}}
            on: [insert, update, delete]
            when: { any: [{ field: data.total, op: gt, value: 100 }, { field: type, op: eq, value: delete }] }
            actions:
              - name: hook
                webhook: { url: "http://127.0.0.1:9/hook", secret: "{{{RulesFileTests.Secret}}}" }
              - name: idx
                index: { name: orders, text: "{{data.note}}" }
        """;

    private Task InsertAsync(decimal total, string note) =>
        Fx.ExecuteAsync($"INSERT INTO {Table} (total, status, note, paid) VALUES ($1, 'new', $2, true)", total, note);

    [Fact]
    public async Task An_insert_that_matches_becomes_one_event_with_the_row_and_each_action_runs_once_then_the_checkpoint_passes_it()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);

        await InsertAsync(150.50m, "rush");
        await InsertAsync(50m, "small");
        await InsertAsync(300m, "last");
        await Wait.For(() => Runner.Calls.Count >= 4, "4 action calls");
        await Wait.For(async () => (await Fx.QueueAsync(Name)).All(r => r.Status == "succeeded"), "every queued action done");

        var calls = Runner.Calls.ToList();
        Assert.Equal(4, calls.Count);
        Assert.DoesNotContain(calls, c => c.Event.Data["note"]!.GetValue<string>() == "small");
        var hook = calls.Single(c => c.Action == "hook" && c.Event.Data["note"]!.GetValue<string>() == "rush");
        var e = hook.Event;
        Assert.Equal(($"table:public.{Table}", "insert"), (e.Source, e.Type));
        Assert.Matches("^[0-9a-f]{16}-0$", e.Id);
        Assert.Equal(150.50m, e.Data["total"]!.GetValue<decimal>());
        Assert.True(e.Data["paid"]!.GetValue<bool>());
        Assert.Equal(1, e.Data["id"]!.GetValue<int>());
        Assert.Null(e.Old);
        Assert.Equal($"{e.Id}.big-orders.hook", hook.WebhookId);
        Assert.IsType<WebhookSpec>(hook.Spec);
        var index = calls.Single(c => c.Action == "idx" && c.Event.Id == e.Id);
        Assert.Equal(new IndexSpec("orders", "rush"), index.Spec);
        Assert.All(calls.GroupBy(c => c.WebhookId), g => Assert.Single(g));
        Assert.Equal(4, (await Fx.QueueAsync(Name)).Count);

        // The checkpoint passes the last event, and the slot confirmed it.
        var lastId = calls.Select(c => c.Event.Id).Max(StringComparer.Ordinal)!;
        var lastCommit = Convert.ToUInt64(lastId[..16], 16);
        await Wait.For(async () => await Fx.ScalarAsync<bool>(
            "SELECT c.lsn > $2::pg_lsn AND s.confirmed_flush_lsn >= c.lsn FROM observer_checkpoints c JOIN pg_replication_slots s ON s.slot_name = c.slot WHERE c.observer = $1",
            Name, Lsn(lastCommit)), "the checkpoint and the slot to pass the last event");
    }

    [Fact]
    public async Task An_update_carries_the_old_row_under_replica_identity_full_and_a_delete_the_deleted_row()
    {
        await Fx.ExecuteAsync($"ALTER TABLE {Table} REPLICA IDENTITY FULL");
        await using var node = await Fx.StartAsync(Name, Rules, Runner);

        await InsertAsync(10m, "cheap");
        await Fx.ExecuteAsync($"UPDATE {Table} SET total = 120, status = 'paid' WHERE note = 'cheap'");
        await Fx.ExecuteAsync($"DELETE FROM {Table} WHERE note = 'cheap'");
        await Wait.For(() => Runner.CallsOfAction("hook").Count >= 2, "the update's and the delete's hook calls");

        var hooks = Runner.CallsOfAction("hook");
        var update = hooks.Single(c => c.Event.Type == "update").Event;
        Assert.Equal((120m, "paid"), (update.Data["total"]!.GetValue<decimal>(), update.Data["status"]!.GetValue<string>()));
        Assert.Equal((10m, "new"), (update.Old!["total"]!.GetValue<decimal>(), update.Old["status"]!.GetValue<string>()));
        var delete = hooks.Single(c => c.Event.Type == "delete").Event;
        Assert.Equal("cheap", delete.Data["note"]!.GetValue<string>());
        Assert.NotEqual(update.Id, delete.Id);
    }

    [Fact]
    public async Task After_a_restart_the_observer_resumes_at_its_checkpoint_nothing_done_again_and_nothing_skipped()
    {
        var first = await Fx.StartAsync(Name, Rules, Runner);
        await InsertAsync(101m, "one");
        await InsertAsync(102m, "two");
        await Wait.For(() => Runner.Calls.Count >= 4, "the first two events' actions");
        await Wait.For(async () => (await Fx.QueueAsync(Name)).All(r => r.Status == "succeeded"), "the first actions recorded");
        await first.DisposeAsync();

        // Written while no observer runs: the slot keeps them.
        await InsertAsync(103m, "three");
        await InsertAsync(104m, "four");
        await using var second = await Fx.StartAsync(Name, Rules, Runner);
        await Wait.For(() => Runner.Calls.Count >= 8, "the events written while stopped");
        await InsertAsync(105m, "five");
        await Wait.For(() => Runner.Calls.Count >= 10, "an event written after the restart");
        await Wait.For(async () => (await Fx.QueueAsync(Name)).All(r => r.Status == "succeeded"), "every action recorded");

        var calls = Runner.Calls.ToList();
        Assert.Equal(10, calls.Count);
        Assert.All(calls.GroupBy(c => c.WebhookId), g => Assert.Single(g));
        Assert.Equal(["five", "four", "one", "three", "two"], calls.Select(c => c.Event.Data["note"]!.GetValue<string>()).Distinct().Order());
        Assert.Equal(10, (await Fx.QueueAsync(Name)).Count);
    }

    [Fact]
    public async Task The_metrics_endpoint_exports_the_observer_s_instruments_under_the_contract_sNames()
    {
        await using var node = await Fx.StartAsync(Name, Rules, Runner);
        await InsertAsync(500m, "metrics");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 2 } rows && rows.All(r => r.Status == "succeeded"), "both actions done");

        string text = "";
        await Wait.For(async () => (text = await node.Http.GetStringAsync("/metrics")).Contains("observer_replication_retained_bytes", StringComparison.Ordinal)
            && text.Contains("observer_action_duration_seconds_bucket", StringComparison.Ordinal), "the gauges and the histogram");

        Assert.Contains($"observer_events_total{{source=\"table:public.{Table}\",type=\"insert\"}}", text);
        Assert.Matches("observer_actions_total\\{(?=[^}]*rule=\"big-orders\")(?=[^}]*action=\"hook\")(?=[^}]*outcome=\"succeeded\")[^}]*\\} 1", text);
        Assert.Contains("observer_leader 1", text);
        Assert.Contains("observer_dlq_depth 0", text);
        Assert.Contains("observer_checkpoint_lag_seconds", text);
        var health = await node.HealthAsync();
        Assert.Equal(("leader", Environment.ProcessId), (health["role"]!.GetValue<string>(), health["pid"]!.GetValue<int>()));
    }

    private static string Lsn(ulong value) => $"{value >> 32:X}/{value & 0xFFFFFFFF:X}";
}
