using Npgsql;

namespace Parley.Data.Outbox;

/// <summary>An outbox row that failed past the retry limit.</summary>
public sealed record DeadLetterRecord(
    long Id, long OutboxId, Guid ConversationId, string Type, string Payload, DateTime CreatedAt, int Attempts, string? LastError, DateTime DeadAt);

/// <summary>
/// The dead-letter queue behind <c>parley dlq list|show|retry|purge</c>. Retrying moves a row back
/// into the outbox as a new row (new id, no attempts) in one statement, so the dispatcher publishes it
/// again; the client-facing event id is assigned then.
/// </summary>
public sealed class DeadLetterStore(NpgsqlDataSource primary)
{
    private const string Columns = "id, outbox_id, conversation_id, type, payload::text, created_at, attempts, last_error, dead_at";

    internal const string ListSql = $"SELECT {Columns} FROM dead_letters WHERE id > $1 ORDER BY id LIMIT $2";

    internal const string GetSql = $"SELECT {Columns} FROM dead_letters WHERE id = $1";

    internal const string CountSql = "SELECT count(*) FROM dead_letters";

    internal const string RetrySql = """
        WITH moved AS (DELETE FROM dead_letters WHERE $1::bigint[] IS NULL OR id = ANY($1) RETURNING *)
        INSERT INTO outbox (conversation_id, type, payload, created_at)
        SELECT conversation_id, type, payload, created_at FROM moved ORDER BY id
        """;

    internal const string PurgeSql = "DELETE FROM dead_letters WHERE $1::bigint[] IS NULL OR id = ANY($1)";

    public DeadLetterStore(ParleyDatabase db) : this(db.Primary)
    {
    }

    /// <summary>Up to <paramref name="limit"/> dead letters with ids above <paramref name="afterId"/>, oldest first.</summary>
    public async Task<IReadOnlyList<DeadLetterRecord>> ListAsync(int limit, long afterId = 0, CancellationToken ct = default)
    {
        await using var cmd = primary.CreateCommand(ListSql);
        cmd.Parameters.Add(new() { Value = afterId });
        cmd.Parameters.Add(new() { Value = limit });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<DeadLetterRecord>();
        while (await reader.ReadAsync(ct)) list.Add(Read(reader));
        return list;
    }

    public async Task<DeadLetterRecord?> GetAsync(long id, CancellationToken ct = default)
    {
        await using var cmd = primary.CreateCommand(GetSql);
        cmd.Parameters.Add(new() { Value = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        return await reader.ReadAsync(ct) ? Read(reader) : null;
    }

    public async Task<long> CountAsync(CancellationToken ct = default)
    {
        await using var cmd = primary.CreateCommand(CountSql);
        return (long)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Puts the given dead letters (all when <paramref name="ids"/> is null) back into the outbox; returns how many.</summary>
    public Task<int> RetryAsync(IReadOnlyCollection<long>? ids, CancellationToken ct = default) => RunAsync(RetrySql, ids, ct);

    /// <summary>Deletes the given dead letters (all when <paramref name="ids"/> is null); returns how many.</summary>
    public Task<int> PurgeAsync(IReadOnlyCollection<long>? ids, CancellationToken ct = default) => RunAsync(PurgeSql, ids, ct);

    private async Task<int> RunAsync(string sql, IReadOnlyCollection<long>? ids, CancellationToken ct)
    {
        await using var cmd = primary.CreateCommand(sql);
        cmd.Parameters.Add(new() { Value = (object?)ids?.ToArray() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Array | NpgsqlTypes.NpgsqlDbType.Bigint });
        return await cmd.ExecuteNonQueryAsync(ct);
    }

    private static DeadLetterRecord Read(NpgsqlDataReader r) => new(
        r.GetInt64(0), r.GetInt64(1), r.GetGuid(2), r.GetString(3), r.GetString(4), r.GetDateTime(5), r.GetInt32(6),
        r.IsDBNull(7) ? null : r.GetString(7), r.GetDateTime(8));
}
