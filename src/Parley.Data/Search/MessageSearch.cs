using System.Security.Cryptography;
using System.Text;
using NpgsqlTypes;
using Parley.Data.Messages;
using Parley.Data.Paging;

namespace Parley.Data.Search;

/// <summary>
/// <c>GET /v1/search/messages</c>: the messages of a user's conversations in <see cref="SearchStore.MessagesIndex"/>
/// that match a web-search query, best first, keyset-paged on (rank, id).
/// </summary>
public sealed class MessageSearch(ParleyDatabase db, CursorCodec cursors)
{
    // Only the caller's conversations that are not deleted; best first, then id, so the keyset is total.
    internal const string SearchMessagesSql = $"""
        SELECT m.id, m.conversation_id, m.sender_id, m.body, m.created_at, m.client_message_id, hit.rank
        FROM (
            SELECT d.message_id, ts_rank(d.document, q.query) AS rank
            FROM websearch_to_tsquery('simple', $2) AS q (query)
            JOIN search_documents d ON d.document @@ q.query
            WHERE d.index_name = '{SearchStore.MessagesIndex}'
              AND d.conversation_id IN (
                  SELECT p.conversation_id FROM participants p JOIN conversations c ON c.id = p.conversation_id
                  WHERE p.user_id = $1 AND c.deleted_at IS NULL)
        ) hit
        JOIN messages m ON m.id = hit.message_id
        WHERE $4::uuid IS NULL OR (hit.rank, m.id) < ($3::real, $4::uuid)
        ORDER BY hit.rank DESC, m.id DESC
        LIMIT $5
        """;

    /// <summary>
    /// Messages of <paramref name="userId"/>'s conversations matching <paramref name="query"/>, best first, keyset-paged.
    /// A cursor is bound to the user and the query: another's is an <see cref="InvalidCursorException"/>.
    /// </summary>
    public async Task<Page<MessageRecord>> SearchMessagesAsync(Guid userId, string query, int limit, string? cursor, CancellationToken ct)
    {
        var scope = Scope(userId, query);
        var after = cursor is null ? (Cursor?)null : cursors.Decode(cursor, scope, CursorKind.SearchMessages);
        await using var cmd = db.Primary.CreateCommand(SearchMessagesSql);
        cmd.Parameters.Add(new() { Value = userId });
        cmd.Parameters.Add(new() { Value = query });
        cmd.Parameters.Add(new() { Value = after?.Rank ?? 0f, NpgsqlDbType = NpgsqlDbType.Real });
        cmd.Parameters.Add(new() { Value = after is { } position ? position.Id : DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        var items = new List<MessageRecord>(limit + 1);
        var ranks = new List<float>(limit + 1);
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                items.Add(MessageStore.ReadMessage(reader));
                ranks.Add(reader.GetFloat(6));
            }
        }
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            next = cursors.Encode(Cursor.ForRank(CursorKind.SearchMessages, ranks[limit - 1], items[^1].Id), scope);
        }
        return new Page<MessageRecord>(items, next);
    }

    // The cursor's signature covers the user and the query, so a page of one search never continues another.
    private static Guid Scope(Guid userId, string query)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes($"{userId:N}\n{query}"));
        return new Guid(hash.AsSpan(0, 16));
    }
}
