using Npgsql;

namespace Parley.Data.Outbox;

/// <summary>One undispatched outbox row.</summary>
/// <param name="Payload">The event's own fields as a JSON object (text).</param>
public sealed record OutboxRow(long Id, Guid ConversationId, string Type, string Payload, DateTime CreatedAt, int Attempts);

/// <summary>What one dispatch attempt on a shard did.</summary>
public enum ShardDispatchStatus
{
    /// <summary>Another process holds the shard; it dispatches it.</summary>
    Locked,

    /// <summary>Nothing waits in the shard.</summary>
    Empty,

    /// <summary>The oldest row waits for its next retry; later rows wait behind it to keep order.</summary>
    Backoff,

    /// <summary>The batch was published and marked dispatched.</summary>
    Published,

    /// <summary>Publishing failed; the rows were rescheduled or dead-lettered.</summary>
    Failed,
}

/// <summary>The outcome of <see cref="OutboxStore.DispatchBatchAsync"/>.</summary>
public readonly record struct ShardDispatchResult(ShardDispatchStatus Status, int Rows = 0, int DeadLettered = 0, bool Full = false);

/// <summary>When a failed row is tried again, and when it is given up.</summary>
/// <param name="MaxAttempts">Attempts after which a row moves to <c>dead_letters</c>.</param>
/// <param name="Backoff">Delay before the next attempt, given the attempts made so far (1 after the first failure).</param>
public sealed record OutboxRetryPolicy(int MaxAttempts, Func<int, TimeSpan> Backoff);

/// <summary>
/// The dispatcher's side of the transactional outbox. Rows are split into shards by a hash of the
/// conversation id; a shard is dispatched by one process at a time (a transaction-scoped advisory
/// lock, which also works through PgBouncer in transaction mode) and in id order, so the events of a
/// conversation are published in the order their transactions inserted them.
/// </summary>
public sealed class OutboxStore(ParleyDatabase db)
{
    /// <summary>First key of the two-key advisory locks (<c>'PLOB'</c>); the second is the shard.</summary>
    public const int ShardLockClass = 0x504C4F42;

    internal const string ShardExpression = "(hashtext(conversation_id::text) & 2147483647) % $1";

    internal const string SelectBatchSql = $"""
        SELECT id, conversation_id, type, payload::text, created_at, attempts, next_attempt_at <= clock_timestamp()
        FROM outbox
        WHERE dispatched_at IS NULL AND {ShardExpression} = $2
        ORDER BY id LIMIT $3
        FOR UPDATE SKIP LOCKED
        """;

    internal const string MarkDispatchedSql = "UPDATE outbox SET dispatched_at = clock_timestamp() WHERE id = ANY($1)";

    internal const string RescheduleSql = """
        UPDATE outbox SET attempts = attempts + 1, last_error = $2, next_attempt_at = clock_timestamp() + $3
        WHERE id = ANY($1)
        """;

    internal const string DeadLetterSql = """
        WITH moved AS (DELETE FROM outbox WHERE id = ANY($1) RETURNING *)
        INSERT INTO dead_letters (outbox_id, conversation_id, type, payload, created_at, attempts, last_error)
        SELECT id, conversation_id, type, payload, created_at, attempts + 1, $2 FROM moved
        """;

    internal const string LagSql = """
        SELECT coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0)::float8
        FROM outbox WHERE dispatched_at IS NULL
        """;

    internal const string PruneSql = """
        DELETE FROM outbox WHERE id IN (
            SELECT id FROM outbox WHERE dispatched_at IS NOT NULL AND dispatched_at < clock_timestamp() - $1 LIMIT $2)
        """;

    /// <summary>
    /// Takes the shard's lock (or returns <see cref="ShardDispatchStatus.Locked"/>), reads up to
    /// <paramref name="batchSize"/> undispatched rows in id order, hands them to
    /// <paramref name="publish"/> and marks them dispatched — all in one transaction. When
    /// <paramref name="publish"/> throws, the rows are rescheduled with backoff, or moved to
    /// <c>dead_letters</c> once they reach <see cref="OutboxRetryPolicy.MaxAttempts"/>.
    /// </summary>
    public async Task<ShardDispatchResult> DispatchBatchAsync(
        int shard, int shardCount, int batchSize, OutboxRetryPolicy retry,
        Func<IReadOnlyList<OutboxRow>, CancellationToken, Task> publish, CancellationToken ct)
    {
        await using var conn = await db.Primary.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        await using (var lockCmd = new NpgsqlCommand("SELECT pg_try_advisory_xact_lock($1, $2)", conn, tx))
        {
            lockCmd.Parameters.Add(new() { Value = ShardLockClass });
            lockCmd.Parameters.Add(new() { Value = shard });
            if (!(bool)(await lockCmd.ExecuteScalarAsync(ct))!) return new(ShardDispatchStatus.Locked);
        }
        var rows = new List<OutboxRow>(Math.Min(batchSize, 64));
        var headDue = false;
        await using (var select = new NpgsqlCommand(SelectBatchSql, conn, tx))
        {
            select.Parameters.Add(new() { Value = shardCount });
            select.Parameters.Add(new() { Value = shard });
            select.Parameters.Add(new() { Value = batchSize });
            await using var reader = await select.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct))
            {
                if (rows.Count == 0) headDue = reader.GetBoolean(6);
                rows.Add(new OutboxRow(reader.GetInt64(0), reader.GetGuid(1), reader.GetString(2), reader.GetString(3), reader.GetDateTime(4), reader.GetInt32(5)));
            }
        }
        if (rows.Count == 0) return new(ShardDispatchStatus.Empty);
        // Rows of a failed batch share one next_attempt_at; rows behind them wait to keep the order.
        if (!headDue) return new(ShardDispatchStatus.Backoff);

        var ids = rows.Select(r => r.Id).ToArray();
        try
        {
            await publish(rows, ct);
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var reason = $"{e.GetType().Name}: {e.Message}";
            var dead = rows.Where(r => r.Attempts + 1 >= retry.MaxAttempts).Select(r => r.Id).ToArray();
            var again = rows.Where(r => r.Attempts + 1 < retry.MaxAttempts).ToArray();
            if (dead.Length > 0)
            {
                await using var cmd = new NpgsqlCommand(DeadLetterSql, conn, tx);
                cmd.Parameters.Add(new() { Value = dead });
                cmd.Parameters.Add(new() { Value = reason });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            if (again.Length > 0)
            {
                await using var cmd = new NpgsqlCommand(RescheduleSql, conn, tx);
                cmd.Parameters.Add(new() { Value = again.Select(r => r.Id).ToArray() });
                cmd.Parameters.Add(new() { Value = reason });
                // The batch waits as long as its oldest row demands: rows that joined later must not
                // shorten the backoff (and so burn the head's attempts) while Redis stays down.
                cmd.Parameters.Add(new() { Value = retry.Backoff(again.Max(r => r.Attempts) + 1) });
                await cmd.ExecuteNonQueryAsync(ct);
            }
            await tx.CommitAsync(ct);
            return new(ShardDispatchStatus.Failed, rows.Count, dead.Length);
        }
        await using (var mark = new NpgsqlCommand(MarkDispatchedSql, conn, tx))
        {
            mark.Parameters.Add(new() { Value = ids });
            await mark.ExecuteNonQueryAsync(ct);
        }
        await tx.CommitAsync(ct);
        return new(ShardDispatchStatus.Published, rows.Count, 0, rows.Count == batchSize);
    }

    /// <summary>Age in seconds of the oldest undispatched row; 0 when none waits.</summary>
    public async Task<double> DispatchLagSecondsAsync(CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(LagSql);
        return (double)(await cmd.ExecuteScalarAsync(ct))!;
    }

    /// <summary>Deletes up to <paramref name="limit"/> rows dispatched more than <paramref name="olderThan"/> ago.</summary>
    public async Task<int> PruneDispatchedAsync(TimeSpan olderThan, int limit, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(PruneSql);
        cmd.Parameters.Add(new() { Value = olderThan });
        cmd.Parameters.Add(new() { Value = limit });
        return await cmd.ExecuteNonQueryAsync(ct);
    }
}
