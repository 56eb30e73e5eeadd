using Npgsql;

namespace Parley.Data.Search;

/// <summary>One document of a named index that matched, best first.</summary>
public sealed record SearchHit(string DocumentId, string Body, float Rank, DateTime IndexedAt);

/// <summary>
/// The full-text index the observer writes (table <c>search_documents</c>, migration 0008): documents of <c>index</c>
/// actions under their event id, and Parley's messages under <see cref="MessagesIndex"/> with their conversation.
/// Queries use <c>websearch_to_tsquery('simple', q)</c> (quotes, <c>or</c>, <c>-word</c>; never a syntax error) and
/// rank with <c>ts_rank</c>. Writes go to <paramref name="primary"/> (the observer's own connection to the primary).
/// The API's message search is <see cref="MessageSearch"/>.
/// </summary>
public sealed class SearchStore(NpgsqlDataSource primary)
{
    /// <summary>The index of Parley's messages. Rule index names cannot hold a dot, so no rule writes to it.</summary>
    public const string MessagesIndex = "parley.messages";

    // A replay writes nothing: the row is rewritten only when it changes.
    internal const string UpsertSql = """
        INSERT INTO search_documents (index_name, document_id, body) VALUES ($1, $2, $3)
        ON CONFLICT (index_name, document_id) DO UPDATE SET body = excluded.body, indexed_at = now()
        WHERE search_documents.body IS DISTINCT FROM excluded.body
        """;

    // Not for a deleted conversation: a retried index of one of its messages after the removal must not bring it back.
    internal const string IndexMessageSql = $"""
        INSERT INTO search_documents (index_name, document_id, conversation_id, message_id, body)
        SELECT '{MessagesIndex}', $1::uuid::text, $2, $1, $3
        WHERE EXISTS (SELECT 1 FROM conversations WHERE id = $2 AND deleted_at IS NULL)
        ON CONFLICT (index_name, document_id) DO NOTHING
        """;

    internal const string RemoveConversationSql = $"""
        DELETE FROM search_documents WHERE index_name = '{MessagesIndex}' AND conversation_id = $1
        """;

    internal const string SearchIndexSql = """
        SELECT d.document_id, d.body, ts_rank(d.document, q.query) AS rank, d.indexed_at
        FROM websearch_to_tsquery('simple', $2) AS q (query)
        JOIN search_documents d ON d.document @@ q.query
        WHERE d.index_name = $1
        ORDER BY rank DESC, d.document_id
        LIMIT $3
        """;

    /// <summary>Stores (or replaces) a document of an <c>index</c> action; idempotent on (index, document id).</summary>
    public async Task UpsertAsync(string indexName, string documentId, string text, CancellationToken ct)
    {
        await using var cmd = primary.CreateCommand(UpsertSql);
        cmd.Parameters.Add(new() { Value = indexName });
        cmd.Parameters.Add(new() { Value = documentId });
        cmd.Parameters.Add(new() { Value = text });
        await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>
    /// Indexes a Parley message (from its <c>message.created</c> event) under its id in <see cref="MessagesIndex"/>.
    /// Idempotent; false when it was there already or its conversation is deleted.
    /// </summary>
    public async Task<bool> IndexMessageAsync(Guid conversationId, Guid messageId, string body, CancellationToken ct)
    {
        await using var cmd = primary.CreateCommand(IndexMessageSql);
        cmd.Parameters.Add(new() { Value = messageId });
        cmd.Parameters.Add(new() { Value = conversationId });
        cmd.Parameters.Add(new() { Value = body });
        return await cmd.ExecuteNonQueryAsync(ct) == 1;
    }

    /// <summary>Removes every indexed message of a conversation (on <c>conversation.deleted</c>); returns how many.</summary>
    public async Task<int> RemoveConversationAsync(Guid conversationId, CancellationToken ct)
    {
        await using var cmd = primary.CreateCommand(RemoveConversationSql);
        cmd.Parameters.Add(new() { Value = conversationId });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    /// <summary>The best <paramref name="limit"/> documents of a named index matching <paramref name="query"/> (<c>parley observer search</c>).</summary>
    public async Task<IReadOnlyList<SearchHit>> SearchAsync(string indexName, string query, int limit, CancellationToken ct)
    {
        await using var cmd = primary.CreateCommand(SearchIndexSql);
        cmd.Parameters.Add(new() { Value = indexName });
        cmd.Parameters.Add(new() { Value = query });
        cmd.Parameters.Add(new() { Value = limit });
        var hits = new List<SearchHit>();
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
            hits.Add(new SearchHit(reader.GetString(0), reader.GetString(1), reader.GetFloat(2), reader.GetDateTime(3)));
        return hits;
    }
}
