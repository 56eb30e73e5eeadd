using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Parley.Data.Messages;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Features;

/// <summary>
/// The group commit of sends (<see cref="SendBatcher"/>): parallel sends each get their own stored,
/// announced message, and a bad row in a batch fails only its own request.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class SendBatchTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Parallel_sends_to_one_conversation_and_to_many_are_each_stored_once_with_one_outbox_row_in_id_order()
    {
        using var api = fixture.Client();
        var owner = await api.NewUserAsync();
        var member = await api.NewUserAsync();
        var busy = await api.CreateConversationAsync(owner, member);
        var many = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => api.CreateConversationAsync(owner, member)));
        var targets = Enumerable.Range(0, 160).Select(i => (Conversation: busy, Sender: i % 2 == 0 ? owner : member, Body: $"busy {i}"))
            .Concat(Enumerable.Range(0, 160).Select(i => (Conversation: many[i % many.Length], Sender: i % 3 == 0 ? member : owner, Body: $"many {i}")))
            .ToArray();

        // 64 at a time, as many as the node admits at once (Parley:Admission), so none is refused.
        using var wire = new SemaphoreSlim(64);
        var sent = await Task.WhenAll(targets.Select(async t =>
        {
            await wire.WaitAsync();
            try
            {
                return await api.SendMessageAsync(t.Sender, t.Conversation, t.Body);
            }
            finally
            {
                wire.Release();
            }
        }));

        var ids = sent.Select(s => Guid.Parse(s["id"]!.GetValue<string>())).ToArray();
        Assert.Equal(ids.Length, ids.Distinct().Count());
        for (var i = 0; i < targets.Length; i++)
        {
            Assert.Equal(targets[i].Body, sent[i]["body"]!.GetValue<string>());
            Assert.Equal(targets[i].Conversation.ToString(), sent[i]["conversationId"]!.GetValue<string>());
        }

        Guid[] conversations = [busy, .. many];
        await using var db = fixture.OpenPrimary();
        await using (var stored = db.CreateCommand("""
            SELECT m.id, (SELECT count(*) FROM outbox o WHERE o.type = 'message.created' AND (o.payload->'message'->>'id')::uuid = m.id)
            FROM messages m WHERE m.conversation_id = ANY($1)
            """))
        {
            stored.Parameters.Add(new() { Value = conversations });
            var outboxRows = new Dictionary<Guid, long>();
            await using var reader = await stored.ExecuteReaderAsync();
            while (await reader.ReadAsync()) outboxRows[reader.GetGuid(0)] = reader.GetInt64(1);
            Assert.Equal(ids.Order(), outboxRows.Keys.Order());
            Assert.All(outboxRows, row => Assert.Equal(1, row.Value));
        }

        // Delivery reads the outbox in id order: each conversation's events come in message order,
        // and each conversation's activity names its newest message.
        await using (var order = db.CreateCommand("""
            SELECT o.conversation_id, array_agg((o.payload->'message'->>'id')::uuid ORDER BY o.id),
                   (SELECT c.last_message_id FROM conversations c WHERE c.id = o.conversation_id),
                   (SELECT m.id FROM messages m WHERE m.conversation_id = o.conversation_id ORDER BY m.created_at DESC, m.id DESC LIMIT 1)
            FROM outbox o WHERE o.type = 'message.created' AND o.conversation_id = ANY($1) GROUP BY o.conversation_id
            """))
        {
            order.Parameters.Add(new() { Value = conversations });
            await using var reader = await order.ExecuteReaderAsync();
            var seen = 0;
            while (await reader.ReadAsync())
            {
                var announced = reader.GetFieldValue<Guid[]>(1);
                Assert.Equal(announced.Order(), announced);
                Assert.Equal(reader.GetGuid(3), reader.GetGuid(2));
                seen++;
            }
            Assert.Equal(conversations.Length, seen);
        }

        Assert.Equal(160, (await api.MessageIdsAsync(member, busy)).Count);
    }

    [Fact]
    public async Task A_bad_row_fails_only_its_own_request_and_retries_inside_the_batch_replay()
    {
        // One writer, held on a row lock, so the sends queued behind it go into one batch in queue order.
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Data:SendBatch:Writers"] = "1" });
        var api = node.Api;
        var batcher = node.App.Services.GetRequiredService<SendBatcher>();
        var owner = await api.NewUserAsync();
        var outsider = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(owner);
        var gone = await api.CreateConversationAsync(owner);
        var heldConversation = await api.CreateConversationAsync(owner);
        var earlier = await api.SendMessageAsync(owner, id, "earlier", "used-before");
        Assert.Equal(HttpStatusCode.NoContent, (await api.SendAsync(owner, HttpMethod.Delete, $"/v1/conversations/{gone}")).StatusCode);

        await using var db = fixture.OpenPrimary();
        await using var held = await HeldRowLock.OnConversationAsync(db, heldConversation);
        var blocked = api.PostAsync(owner, $"/v1/conversations/{heldConversation}/messages", new { body = "blocked" });
        await held.WaitForOneBlockedAsync("-- name: message.send_batch");

        var cases = new (Guid Conversation, ApiUser Sender, string Body, string? ClientMessageId)[]
        {
            (id, owner, "first", null),
            (id, outsider, "not a member", null),
            (id, owner, "second", "fresh"),
            (id, owner, "second", "fresh"),
            (id, owner, "other text", "fresh"),
            (id, owner, "earlier", "used-before"),
            (id, owner, "changed", "used-before"),
            (gone, owner, "too late", null),
            (id, owner, "third", null),
        };
        var responses = new List<Task<HttpResponseMessage>>();
        foreach (var c in cases)
        {
            responses.Add(api.PostAsync(c.Sender, $"/v1/conversations/{c.Conversation}/messages", new { body = c.Body, clientMessageId = c.ClientMessageId }));
            var queued = responses.Count;
            await Eventually.True(() => Task.FromResult(batcher.Queued == queued), $"{queued} sends queued behind the held batch");
        }
        await held.ReleaseAsync();
        Assert.Equal(HttpStatusCode.Created, (await blocked).StatusCode);
        var answers = await Task.WhenAll(responses);

        Assert.Equal(HttpStatusCode.Created, answers[0].StatusCode);
        await ApiClient.AssertProblem(answers[1], HttpStatusCode.Forbidden);
        Assert.Equal(HttpStatusCode.Created, answers[2].StatusCode);
        var fresh = await ApiClient.Json(answers[2]);
        Assert.Equal(HttpStatusCode.OK, answers[3].StatusCode);
        Assert.Equal("true", answers[3].Headers.GetValues("Idempotent-Replay").Single());
        Assert.Equal(fresh.ToJsonString(), (await ApiClient.Json(answers[3])).ToJsonString());
        Assert.Equal(fresh["id"]!.GetValue<string>(), (await ApiClient.AssertProblem(answers[4], HttpStatusCode.UnprocessableEntity))["messageId"]!.GetValue<string>());
        Assert.Equal(HttpStatusCode.OK, answers[5].StatusCode);
        Assert.Equal(earlier.ToJsonString(), (await ApiClient.Json(answers[5])).ToJsonString());
        Assert.Equal(earlier["id"]!.GetValue<string>(), (await ApiClient.AssertProblem(answers[6], HttpStatusCode.UnprocessableEntity))["messageId"]!.GetValue<string>());
        await ApiClient.AssertProblem(answers[7], HttpStatusCode.NotFound);
        Assert.Equal(HttpStatusCode.Created, answers[8].StatusCode);

        // The three stored sends shared one transaction (one timestamp), and nothing else was stored.
        var stored = await Task.WhenAll(new[] { answers[0], answers[8] }.Select(ApiClient.Json));
        Assert.Single(stored.Append(fresh).Select(s => s["createdAt"]!.GetValue<DateTime>()).Distinct());
        Assert.Equal(["third", "second", "first", "earlier"], (await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{id}/messages")))["items"]!
            .AsArray().Select(m => m!["body"]!.GetValue<string>()));
        await using var outbox = db.CreateCommand("SELECT count(*) FROM outbox WHERE conversation_id = ANY($1) AND type = 'message.created'");
        outbox.Parameters.Add(new() { Value = new[] { id, gone } });
        Assert.Equal(4L, await outbox.ExecuteScalarAsync());
    }
}
