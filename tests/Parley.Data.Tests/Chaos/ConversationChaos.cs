using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Parley.Data.Conversations;
using Parley.Data.Flags;
using Parley.Data.Messages;
using Parley.Data.Paging;
using Parley.Data.Routing;

namespace Parley.Data.Tests.Chaos;

/// <summary>One conversation of an owner and four other users, with the real stores over a test database, and what its rows say.</summary>
public sealed record ConversationChaos(
    TestDatabase Db, ParleyDatabase Data, ConversationStore Store, SendBatcher Batcher, MessageStore Messages, Guid Owner, Guid[] Users, Guid Conversation)
    : IAsyncDisposable
{
    /// <summary>The events a change writes to the outbox in the same statement.</summary>
    public const string EventTypes = "'conversation.updated', 'conversation.deleted', 'participant.added', 'participant.removed', 'message.created'";

    /// <summary>A conversation of the owner and <c>Users[0]</c>; statements time out after 3 s: the timeout fault waits it out, and a loaded machine does not reach it otherwise.</summary>
    public static async Task<ConversationChaos> StartAsync(ChaosPostgres server)
    {
        var db = await server.CreateDatabaseAsync();
        var data = new ParleyDatabase(new DataOptions { PrimaryConnectionString = db.ConnectionString, StatementTimeoutSeconds = 3 });
        var time = TimeProvider.System;
        var access = new ConversationAccess(data, new MembershipCache(time));
        var cursors = new CursorCodec(new byte[32]);
        var router = new ReadRouter(data, new FeatureFlags(data), new ReplicaBreaker(new ReplicaOptions(), NullLogger<ReplicaBreaker>.Instance, time), time);
        var store = new ConversationStore(data, access, cursors, router, time);
        var batcher = new SendBatcher(data, new SendBatchOptions { Writers = 1 }, time, NullLogger<SendBatcher>.Instance);
        var ids = Enumerable.Range(0, 5).Select(_ => Guid.NewGuid()).ToArray();
        await using (var cmd = db.Source.CreateCommand(
            "INSERT INTO users (id, handle, display_name, password_hash, created_at) SELECT u, 'u' || left(u::text, 8), 'u', 'x', now() FROM unnest($1::uuid[]) u"))
        {
            cmd.Parameters.Add(new() { Value = ids });
            await cmd.ExecuteNonQueryAsync();
        }
        var created = await store.CreateAsync(ids[0], "start", [ids[1]], default);
        return new ConversationChaos(db, data, store, batcher, new MessageStore(data, batcher, access, cursors, router), ids[0], ids[1..], created.Value!.Id);
    }

    /// <summary>
    /// What the rows say: title, version, deleted, members (not the owner) with the clientMessageId of their read marker,
    /// the messages (sender and clientMessageId) and the outbox events (with the user or sender) in id order.
    /// </summary>
    public async Task<ConversationState> ReadAsync()
    {
        await using var conn = await Db.Source.OpenConnectionAsync();
        string? title; int version; bool deleted;
        await using (var cmd = new NpgsqlCommand("SELECT title, version, deleted_at IS NOT NULL FROM conversations WHERE id = $1", conn))
        {
            cmd.Parameters.Add(new() { Value = Conversation });
            await using var r = await cmd.ExecuteReaderAsync();
            await r.ReadAsync();
            (title, version, deleted) = (r.IsDBNull(0) ? null : r.GetString(0), r.GetInt32(1), r.GetBoolean(2));
        }
        var members = new List<Guid>();
        var markers = new Dictionary<Guid, string>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT p.user_id, m.client_message_id FROM participants p LEFT JOIN messages m ON m.id = p.last_read_message_id WHERE p.conversation_id = $1 AND p.user_id <> $2 ORDER BY p.user_id", conn))
        {
            cmd.Parameters.Add(new() { Value = Conversation });
            cmd.Parameters.Add(new() { Value = Owner });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync())
            {
                members.Add(r.GetGuid(0));
                if (!r.IsDBNull(1)) markers[r.GetGuid(0)] = r.GetString(1);
            }
        }
        var messages = new List<(Guid Sender, string ClientId)>();
        await using (var cmd = new NpgsqlCommand("SELECT sender_id, client_message_id FROM messages WHERE conversation_id = $1 ORDER BY id", conn))
        {
            cmd.Parameters.Add(new() { Value = Conversation });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) messages.Add((r.GetGuid(0), r.GetString(1)));
        }
        var events = new List<(string Type, Guid? User)>();
        await using (var cmd = new NpgsqlCommand(
            "SELECT type, coalesce(payload->>'userId', payload->'message'->>'senderId')::uuid FROM outbox WHERE conversation_id = $1 ORDER BY id", conn))
        {
            cmd.Parameters.Add(new() { Value = Conversation });
            await using var r = await cmd.ExecuteReaderAsync();
            while (await r.ReadAsync()) events.Add((r.GetString(0), r.IsDBNull(1) ? null : r.GetGuid(1)));
        }
        return new ConversationState(title, version, deleted, members, events, messages, markers);
    }

    public async ValueTask DisposeAsync()
    {
        await Batcher.DisposeAsync();
        await Data.DisposeAsync();
        await Db.DisposeAsync();
    }
}

/// <summary>A conversation's rows; every message is sent with a clientMessageId, which names it here.</summary>
public sealed record ConversationState(
    string? Title, int Version, bool Deleted, IReadOnlyList<Guid> Members, List<(string Type, Guid? User)> Events,
    List<(Guid Sender, string ClientId)> Messages, IReadOnlyDictionary<Guid, string> ReadMarkers)
{
    public override string ToString() =>
        $"title={Title} version={Version} deleted={Deleted} members={Members.Count} messages={Messages.Count} markers={ReadMarkers.Count} events=[{string.Join(", ", Events.Select(e => e.Type))}]";
}
