using System.Text.Json.Nodes;
using Parley.Observer.Actions;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Pipeline;

[Collection(ObserverCollection.Name)]
[Trait("Category", "Integration")]
public sealed class ParleySourceTests(ObserverFixture fx) : IAsyncLifetime
{
    private readonly string _name = ObserverFixture.NewName();
    private readonly TestRunner _runner = new();
    private readonly Guid _conversation = Guid.NewGuid();

    public Task InitializeAsync() => Task.CompletedTask;

    public Task DisposeAsync() => fx.DropGroupAsync(_name);

    [Fact]
    public async Task A_message_created_outbox_row_becomes_a_parley_event_with_the_websocket_frame_s_fields()
    {
        // Only this test's conversation: the outbox is shared.
        await using var node = await fx.StartAsync(_name, $$$"""
            rules:
              - name: messages
                source: parley
                on: [message.created]
                when: { field: data.conversationId, op: eq, value: "{{{_conversation}}}" }
                actions:
                  - name: idx
                    index: { name: messages, text: "{{data.message.body}}" }
            """, _runner);
        var message = new JsonObject
        {
            ["id"] = Guid.NewGuid(), ["conversationId"] = _conversation, ["senderId"] = Guid.NewGuid(), ["body"] = "hello observer",
            ["createdAt"] = "2026-12-01T12:00:00.000Z",
        };

        await fx.ExecuteAsync("INSERT INTO outbox (conversation_id, type, payload) VALUES ($1, 'participant.added', $2::jsonb)",
            _conversation, new JsonObject { ["userId"] = Guid.NewGuid() }.ToJsonString());
        await fx.ExecuteAsync("INSERT INTO outbox (conversation_id, type, payload) VALUES ($1, 'message.created', $2::jsonb)",
            _conversation, new JsonObject { ["message"] = message }.ToJsonString());
        await Wait.For(() => _runner.Calls.Count >= 1, "the message's action");

        var e = Assert.Single(_runner.Calls).Event;
        Assert.Equal(("parley", "message.created"), (e.Source, e.Type));
        Assert.Equal(["conversationId", "message"], e.Data.Select(p => p.Key));
        Assert.Equal(_conversation, e.Data["conversationId"]!.GetValue<Guid>());
        Assert.True(JsonNode.DeepEquals(message, e.Data["message"]));
        Assert.Equal(new IndexSpec("messages", "hello observer"), _runner.Calls.Single().Spec);
    }
}
