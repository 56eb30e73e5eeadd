using Npgsql;
using Parley.Data.Conversations;
using Parley.Data.Paging;
using Parley.Data.Routing;

namespace Parley.Data.Messages;

/// <summary>A send's result: the message, and whether it was stored earlier under the same clientMessageId.</summary>
public sealed record SendResult(MessageRecord Message, bool Replayed);

public sealed class MessageStore(ParleyDatabase db, SendBatcher batcher, ConversationAccess access, CursorCodec cursors, ReadRouter router)
{
    private const string Columns = "id, conversation_id, sender_id, body, created_at, client_message_id";

    internal const string SelectByClientIdSql = $"""
        SELECT {Columns} FROM messages
        WHERE conversation_id = $1 AND sender_id = $2 AND client_message_id = $3
        """;

    internal const string HistoryFirstPageSql = $"""
        SELECT {Columns} FROM messages
        WHERE conversation_id = $1
        ORDER BY created_at DESC, id DESC LIMIT $2
        """;

    internal const string HistoryOlderSql = $"""
        SELECT {Columns} FROM messages
        WHERE conversation_id = $1 AND (created_at, id) < ($3, $4)
        ORDER BY created_at DESC, id DESC LIMIT $2
        """;

    internal const string HistoryNewerSql = $"""
        SELECT {Columns} FROM messages
        WHERE conversation_id = $1 AND (created_at, id) > ($3, $4)
        ORDER BY created_at, id LIMIT $2
        """;

    internal const string KeyOfSql = "SELECT created_at FROM messages WHERE id = $1 AND conversation_id = $2";

    internal const string MarkReadSql = """
        UPDATE participants p SET last_read_at = m.created_at, last_read_message_id = m.id
        FROM messages m
        WHERE m.id = $3 AND m.conversation_id = $1 AND p.conversation_id = $1 AND p.user_id = $2
          AND (p.last_read_at IS NULL OR (p.last_read_at, p.last_read_message_id) < (m.created_at, m.id))
        """;

    /// <summary>
    /// Stores a message through the group commit (<see cref="SendBatcher"/>), answered once its batch
    /// has committed. A clientMessageId used before answers the stored message (Replayed).
    /// </summary>
    public async Task<Outcome<SendResult>> SendAsync(Guid conversationId, Guid senderId, string body, string? clientMessageId, CancellationToken ct)
    {
        var sent = await batcher.SendAsync(conversationId, senderId, body, clientMessageId, ct);
        switch (sent)
        {
            case { State: BatchedState.Inserted, Message: { } stored }:
                router.RecordWrite(senderId);
                return Outcome<SendResult>.Ok(new SendResult(stored, Replayed: false));
            case { State: BatchedState.Exists, Message: { } earlier }:
                return Outcome<SendResult>.Ok(new SendResult(earlier, Replayed: true));
            case { State: BatchedState.NotMember }:
                return ConversationAccess.Deny<SendResult>(await access.CheckAsync(conversationId, senderId, ct))
                    ?? Outcome<SendResult>.Fail(OutcomeStatus.Conflict, "Membership changed during the send; try again.");
        }
        // A member whose insert did nothing: the clientMessageId was used before this batch.
        await using var select = db.Primary.CreateCommand(SelectByClientIdSql);
        select.Parameters.Add(new() { Value = conversationId });
        select.Parameters.Add(new() { Value = senderId });
        select.Parameters.Add(new() { Value = clientMessageId! });
        await using var existing = await select.ExecuteReaderAsync(ct);
        return await existing.ReadAsync(ct)
            ? Outcome<SendResult>.Ok(new SendResult(ReadMessage(existing), Replayed: true))
            : Outcome<SendResult>.Fail(OutcomeStatus.Conflict, "The message could not be stored; try again.");
    }

    /// <summary>
    /// One page of a conversation's messages. Without <paramref name="afterMessageId"/>: newest first,
    /// the cursor leading to older messages. With it (or with a cursor from such a page): oldest first,
    /// starting after that message — the catch-up after a reconnect.
    /// </summary>
    public async Task<Outcome<Page<MessageRecord>>> PageAsync(
        Guid conversationId, Guid userId, int limit, string? cursor, Guid? afterMessageId, CancellationToken ct)
    {
        var position = cursor is null ? (Cursor?)null
            : cursors.Decode(cursor, conversationId, afterMessageId is null ? [CursorKind.HistoryOlder, CursorKind.HistoryNewer] : [CursorKind.HistoryNewer]);
        if (ConversationAccess.Deny<Page<MessageRecord>>(await access.CheckAsync(conversationId, userId, ct)) is { } denied) return denied;
        if (position is null && afterMessageId is { } after)
        {
            await using var cmd = db.Primary.CreateCommand(KeyOfSql);
            cmd.Parameters.Add(new() { Value = after });
            cmd.Parameters.Add(new() { Value = conversationId });
            if (await cmd.ExecuteScalarAsync(ct) is not DateTime at)
                return Outcome<Page<MessageRecord>>.Fail(OutcomeStatus.Invalid, $"Message {after} is not in this conversation.");
            position = new Cursor(CursorKind.HistoryNewer, at, after);
        }
        var sql = position switch
        {
            null => HistoryFirstPageSql,
            { Kind: CursorKind.HistoryNewer } => HistoryNewerSql,
            _ => HistoryOlderSql,
        };
        var kind = position?.Kind ?? CursorKind.HistoryOlder;
        var page = await router.ReadAsync(ReadOperation.MessageHistory, userId,
            (conn, _, token) => ReadPageAsync(conn, sql, kind, conversationId, limit, position, token), ct);
        return Outcome<Page<MessageRecord>>.Ok(page);
    }

    public async Task<Outcome<bool>> MarkReadAsync(Guid conversationId, Guid userId, Guid messageId, CancellationToken ct)
    {
        if (ConversationAccess.Deny<bool>(await access.CheckAsync(conversationId, userId, ct)) is { } denied) return denied;
        await using var cmd = db.Primary.CreateCommand(MarkReadSql);
        cmd.Parameters.Add(new() { Value = conversationId });
        cmd.Parameters.Add(new() { Value = userId });
        cmd.Parameters.Add(new() { Value = messageId });
        if (await cmd.ExecuteNonQueryAsync(ct) == 1) return Outcome<bool>.Ok(true);
        // Nothing moved: either the marker is already past this message (fine) or there is no such message.
        await using var exists = db.Primary.CreateCommand(KeyOfSql);
        exists.Parameters.Add(new() { Value = messageId });
        exists.Parameters.Add(new() { Value = conversationId });
        return await exists.ExecuteScalarAsync(ct) is DateTime
            ? Outcome<bool>.Ok(true)
            : Outcome<bool>.Fail(OutcomeStatus.NotFound, $"Message {messageId} is not in this conversation.");
    }

    private async Task<Page<MessageRecord>> ReadPageAsync(
        NpgsqlConnection conn, string sql, CursorKind kind, Guid conversationId, int limit, Cursor? position, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, conn);
        cmd.Parameters.Add(new() { Value = conversationId });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        if (position is { } p)
        {
            cmd.Parameters.Add(new() { Value = p.At });
            cmd.Parameters.Add(new() { Value = p.Id });
        }
        var items = new List<MessageRecord>(limit + 1);
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct)) items.Add(ReadMessage(reader));
        }
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = cursors.Encode(new Cursor(kind, items[^1].CreatedAt, items[^1].Id), conversationId);
        }
        return new Page<MessageRecord>(items, next);
    }

    internal static MessageRecord ReadMessage(NpgsqlDataReader r) => new(
        r.GetGuid(0), r.GetGuid(1), r.GetGuid(2), r.GetString(3), r.GetDateTime(4), r.IsDBNull(5) ? null : r.GetString(5));
}
