using System.Text.Json.Nodes;
using MimeKit;
using Parley.Observer.Actions;
using Parley.Observer.Tests.Actions;
using Parley.Observer.Tests.Infrastructure;
using Parley.Observer.Tests.Rules;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>
/// Seed 003's E2E 1 with the real runners: an insert into an <c>orders</c> table becomes an event, its conditions are
/// tested, and it gets exactly one signed webhook, one mail through the stack's SMTP server, one Slack message and one
/// search document; the checkpoint passes it, and after a restart nothing is done again.
/// </summary>
[Collection(ObserverCollection.Name)]
[Trait("Category", "Integration")]
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class OrderFlowTests(ObserverFixture fx) : ReceiverEndToEnd(fx, "e", "total numeric NOT NULL, status text NOT NULL, note text")
{
    private string Index => $"orders-{Name}";

    private string Rules => $$$"""
        rules:
          - name: big-orders
            source: table:public.{{{Table}}}
            on: [insert]
            when:
              all:
                - { field: data.total, op: gt, value: 100 }
                - { field: data.status, op: in, value: [new, paid] }
            actions:
              - name: notify-shop
                webhook: { url: "{{{Receiver.Url("/hook")}}}", secret: "{{{RulesFileTests.Secret}}}", timeout: 5s }
              - name: mail-ops
                email: { to: ["ops@example.com"], subject: "Order {{data.id}}", body: "Total {{data.total}}" }
              - name: chat-ops
                slack: { url: "{{{Receiver.Url("/slack")}}}", text: "New order {{data.id}}" }
              - name: index-orders
                index: { name: {{{Index}}}, text: "{{data.note}}" }
        """;

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Fx.ExecuteAsync("DELETE FROM search_documents WHERE index_name = $1", Index);
    }

    [Fact]
    public async Task An_order_gets_one_webhook_one_mail_one_slack_message_and_one_index_entry_and_a_restart_does_none_of_them_again()
    {
        var first = await Fx.StartAsync(Name, Rules, runner: null);
        await Fx.ExecuteAsync($"INSERT INTO {Table} (total, status, note) VALUES (150.5, 'new', 'rush delivery'), (50, 'new', 'small'), (500, 'cancelled', 'void')");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 4 } rows && rows.All(r => r.Status == "succeeded"), "the matching order's four actions done");

        var eventId = (await Fx.QueueAsync(Name))[0].EventId;
        var hook = Assert.Single(Receiver.All, r => r.Path == "/hook");
        Assert.Equal($"{eventId}.big-orders.notify-shop", hook.Headers["webhook-id"].ToString());
        Assert.True(WebhookRunnerTests.Verifies(RulesFileTests.Secret, hook.Headers, hook.Body, DateTimeOffset.UtcNow), "the signature verifies independently");
        var body = JsonNode.Parse(hook.Body)!;
        Assert.Equal((eventId, "insert", 150.5m), (body["id"]!.GetValue<string>(), body["type"]!.GetValue<string>(), body["data"]!["total"]!.GetValue<decimal>()));
        var slack = Assert.Single(Receiver.All, r => r.Path == "/slack");
        Assert.Equal("New order 1", JsonNode.Parse(slack.Body)!["text"]!.GetValue<string>());
        var mail = Assert.Single(MailFor($"{eventId}.big-orders.mail-ops"));
        Assert.Equal(("Order 1", "Total 150.5"), (mail.Subject, mail.TextBody!.Trim()));
        var search = (await Cli.OkAsync("search", Index, "rush", "--json")).Json().GetProperty("items");
        Assert.Equal(eventId, Assert.Single(search.EnumerateArray()).GetProperty("documentId").GetString());

        // The checkpoint passed the event before the restart, and the slot confirmed it.
        var commitLsn = Convert.ToUInt64(eventId[..16], 16);
        await Wait.For(async () => await Fx.ScalarAsync<bool>(
            "SELECT c.lsn > $2::pg_lsn AND s.confirmed_flush_lsn >= c.lsn FROM observer_checkpoints c JOIN pg_replication_slots s ON s.slot_name = c.slot WHERE c.observer = $1",
            Name, $"{commitLsn >> 32:X}/{commitLsn & 0xFFFFFFFF:X}"), "the checkpoint and the slot to pass the event");
        await first.DisposeAsync();

        await using var second = await Fx.StartAsync(Name, Rules, runner: null);
        await Fx.ExecuteAsync($"INSERT INTO {Table} (total, status, note) VALUES (101, 'paid', 'after the restart')");
        await Wait.For(async () => (await Fx.QueueAsync(Name)) is { Count: 8 } rows && rows.All(r => r.Status == "succeeded"), "the second order's actions done");

        var rows = await Fx.QueueAsync(Name);
        Assert.All(rows, r => Assert.Equal(1, r.Attempts));
        Assert.Equal(2, rows.Select(r => r.EventId).Distinct().Count());
        Assert.Equal(2, Receiver.All.Count(r => r.Path == "/hook"));
        Assert.Equal(2, Receiver.All.Count(r => r.Path == "/slack"));
        Assert.Single(MailFor($"{eventId}.big-orders.mail-ops"));
        Assert.Single(Receiver.All, r => r.Path == "/hook" && r.Headers["webhook-id"] == $"{eventId}.big-orders.notify-shop");
        Assert.Equal(2L, await Fx.ScalarAsync<long>("SELECT count(*) FROM search_documents WHERE index_name = $1", Index));
    }

    private List<MimeMessage> MailFor(string actionId) =>
        [.. Directory.EnumerateFiles(Path.Combine(Fx.Stack.SmtpMaildir!, "new")).Select(file => MimeMessage.Load(file)).Where(m => m.Headers[EmailRunner.ActionIdHeader] == actionId)];
}
