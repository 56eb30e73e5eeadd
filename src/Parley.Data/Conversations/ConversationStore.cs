using Npgsql;
using Parley.Data.Paging;
using Parley.Data.Routing;

namespace Parley.Data.Conversations;

public sealed class ConversationStore(ParleyDatabase db, ConversationAccess access, CursorCodec cursors, ReadRouter router, TimeProvider time)
{
    internal const string UnknownUsersSql = "SELECT u FROM unnest($1::uuid[]) AS u WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = u)";

    internal const string InsertSql = """
        INSERT INTO conversations (id, title, owner_id, created_at, updated_at, last_activity_at)
        VALUES ($1, $2, $3, $4, $4, $4)
        """;

    // Every member but the owner gets a participant.added event, as a later add would: their sockets learn of the new
    // conversation at once (a live list), not at its first message.
    internal const string InsertParticipantsSql = """
        WITH added AS (
            INSERT INTO participants (conversation_id, user_id, role, joined_at)
            SELECT $1, u, CASE WHEN u = $2 THEN 'owner' ELSE 'member' END, $3 FROM unnest($4::uuid[]) AS u
            RETURNING user_id)
        INSERT INTO outbox (conversation_id, type, payload)
        SELECT $1, 'participant.added', jsonb_build_object('userId', user_id) FROM added WHERE user_id <> $2
        """;

    internal const string SelectSql = """
        SELECT id, title, owner_id, version, created_at, updated_at FROM conversations
        WHERE id = $1 AND deleted_at IS NULL
        """;

    internal const string SelectParticipantsSql = """
        SELECT p.user_id, u.handle, p.role, p.joined_at FROM participants p JOIN users u ON u.id = p.user_id
        WHERE p.conversation_id = $1 ORDER BY p.joined_at, p.user_id
        """;

    // Membership changes hold the conversation's row FOR SHARE: a delete committing between the access check and
    // the change then makes it change nothing (found by ConversationRaceTests: a participant added after the delete).
    private const string LiveConversation = "live AS (SELECT id FROM conversations WHERE id = $1 AND deleted_at IS NULL FOR SHARE)";

    // One row when the user exists: its handle, role and joined_at when it was added (null when already present),
    // and whether the conversation still exists.
    internal const string AddParticipantSql = $"""
        WITH {LiveConversation},
        added AS (
            INSERT INTO participants (conversation_id, user_id, role, joined_at)
            SELECT $1, u.id, 'member', $3 FROM users u, live WHERE u.id = $2
            ON CONFLICT DO NOTHING
            RETURNING role, joined_at),
        event AS (
            INSERT INTO outbox (conversation_id, type, payload)
            SELECT $1, 'participant.added', jsonb_build_object('userId', $2::uuid) FROM added)
        SELECT u.handle, a.role, a.joined_at, EXISTS (SELECT FROM live) FROM users u LEFT JOIN added a ON true WHERE u.id = $2
        """;

    // Each change writes its outbox event in the same statement; the row count is the event's.
    internal const string UpdateTitleSql = """
        WITH updated AS (
            UPDATE conversations SET title = $3, version = version + 1, updated_at = $4
            WHERE id = $1 AND version = ANY($2) AND deleted_at IS NULL
            RETURNING id, version)
        INSERT INTO outbox (conversation_id, type, payload)
        SELECT id, 'conversation.updated', jsonb_build_object('version', version) FROM updated
        """;

    internal const string SoftDeleteSql = """
        WITH deleted AS (
            UPDATE conversations SET deleted_at = $2, version = version + 1, updated_at = $2
            WHERE id = $1 AND deleted_at IS NULL
            RETURNING id)
        INSERT INTO outbox (conversation_id, type, payload)
        SELECT id, 'conversation.deleted', '{}'::jsonb FROM deleted
        """;

    internal const string RemoveParticipantSql = $"""
        WITH {LiveConversation},
        removed AS (
            DELETE FROM participants WHERE conversation_id = $1 AND user_id = $2 AND EXISTS (SELECT FROM live)
            RETURNING conversation_id, user_id)
        INSERT INTO outbox (conversation_id, type, payload)
        SELECT conversation_id, 'participant.removed', jsonb_build_object('userId', user_id) FROM removed
        """;

    // The list: the user's memberships (idx_participants_user), each conversation by primary key,
    // its last message by primary key, and the unread count from idx_messages_conversation_created.
    private const string ListSelect = $"""
        SELECT c.id, c.title, c.last_activity_at,
               m.id, m.sender_id, m.body, m.created_at, m.client_message_id,
               {UnreadCountExpression} AS unread
        FROM participants p
        JOIN conversations c ON c.id = p.conversation_id
        LEFT JOIN messages m ON m.id = c.last_message_id
        WHERE p.user_id = $1 AND c.deleted_at IS NULL
        """;

    internal const string ListFirstPageSql = ListSelect + """

        ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2
        """;

    internal const string ListNextPageSql = ListSelect + """

          AND (c.last_activity_at, c.id) < ($3, $4)
        ORDER BY c.last_activity_at DESC, c.id DESC LIMIT $2
        """;

    private const string UnreadCountExpression = """
        (SELECT count(*) FROM messages u
          WHERE u.conversation_id = p.conversation_id
            AND (u.created_at, u.id) > (coalesce(p.last_read_at, '-infinity'), coalesce(p.last_read_message_id, '00000000-0000-0000-0000-000000000000'))
            AND u.sender_id <> p.user_id)
        """;

    internal const string UnreadCountsSql = $"""
        SELECT p.conversation_id, {UnreadCountExpression}
        FROM participants p WHERE p.user_id = $1 AND p.conversation_id = ANY($2)
        """;

    public async Task<Outcome<ConversationRecord>> CreateAsync(Guid ownerId, string? title, IReadOnlyCollection<Guid> participantIds, CancellationToken ct)
    {
        var members = participantIds.Append(ownerId).Distinct().ToArray();
        await using var conn = await db.Primary.OpenConnectionAsync(ct);
        await using var tx = await conn.BeginTransactionAsync(ct);
        var unknown = new List<Guid>();
        await using (var cmd = new NpgsqlCommand(UnknownUsersSql, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = members });
            await using var reader = await cmd.ExecuteReaderAsync(ct);
            while (await reader.ReadAsync(ct)) unknown.Add(reader.GetGuid(0));
        }
        if (unknown.Count > 0)
            return Outcome<ConversationRecord>.Fail(OutcomeStatus.Invalid, $"Unknown user ids: {string.Join(", ", unknown)}.");

        var now = Clock.UtcNowMs(time);
        var id = Ids.NewId(now);
        await using (var cmd = new NpgsqlCommand(InsertSql, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = (object?)title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = ownerId });
            cmd.Parameters.Add(new() { Value = now });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        await using (var cmd = new NpgsqlCommand(InsertParticipantsSql, conn, tx))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = ownerId });
            cmd.Parameters.Add(new() { Value = now });
            cmd.Parameters.Add(new() { Value = members });
            await cmd.ExecuteNonQueryAsync(ct);
        }
        var conversation = await ReadAsync(conn, tx, id, ct);
        await tx.CommitAsync(ct);
        router.RecordWrite(ownerId);
        return Outcome<ConversationRecord>.Ok(conversation!);
    }

    public async Task<Outcome<ConversationRecord>> GetAsync(Guid id, Guid userId, CancellationToken ct)
    {
        if (ConversationAccess.Deny<ConversationRecord>(await access.CheckAsync(id, userId, ct)) is { } denied) return denied;
        await using var conn = await db.Primary.OpenConnectionAsync(ct);
        var conversation = await ReadAsync(conn, null, id, ct);
        return conversation is null
            ? Outcome<ConversationRecord>.Fail(OutcomeStatus.NotFound, "No such conversation.")
            : Outcome<ConversationRecord>.Ok(conversation);
    }

    /// <summary>Renames the conversation if <paramref name="expectedVersion"/> is still current.</summary>
    /// <summary>Sets the title if the conversation's version is one of <paramref name="expectedVersions"/> (an If-Match list; empty never matches).</summary>
    public async Task<Outcome<ConversationRecord>> UpdateTitleAsync(Guid id, Guid userId, int[] expectedVersions, string? title, CancellationToken ct)
    {
        if (ConversationAccess.Deny<ConversationRecord>(await access.CheckAsync(id, userId, ct)) is { } denied) return denied;
        await using var conn = await db.Primary.OpenConnectionAsync(ct);
        await using (var cmd = new NpgsqlCommand(UpdateTitleSql, conn))
        {
            cmd.Parameters.Add(new() { Value = id });
            cmd.Parameters.Add(new() { Value = expectedVersions });
            cmd.Parameters.Add(new() { Value = (object?)title ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            cmd.Parameters.Add(new() { Value = Clock.UtcNowMs(time) });
            if (await cmd.ExecuteNonQueryAsync(ct) == 0)
            {
                var current = await ReadAsync(conn, null, id, ct);
                return current is null
                    ? Outcome<ConversationRecord>.Fail(OutcomeStatus.NotFound, "No such conversation.")
                    : Outcome<ConversationRecord>.Fail(OutcomeStatus.Conflict, (expectedVersions.Length == 0 ? "If-Match holds no strong ETag (a weak one never matches)" : $"Version {string.Join(", ", expectedVersions)} is stale")
                        + $"; the current version is {current.Version}.");
            }
        }
        return Outcome<ConversationRecord>.Ok((await ReadAsync(conn, null, id, ct))!);
    }

    public async Task<Outcome<bool>> DeleteAsync(Guid id, Guid userId, CancellationToken ct)
    {
        if (ConversationAccess.Deny<bool>(await access.CheckAsync(id, userId, ct), ownerOnly: true) is { } denied) return denied;
        await using var cmd = db.Primary.CreateCommand(SoftDeleteSql);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = Clock.UtcNowMs(time) });
        return await cmd.ExecuteNonQueryAsync(ct) == 1
            ? Outcome<bool>.Ok(true)
            : Outcome<bool>.Fail(OutcomeStatus.NotFound, "No such conversation.");
    }

    /// <summary>
    /// The user's conversations, most recent activity first. The page may come from the replica
    /// (flag <c>conversation.list.replica.enabled</c>); unread counts always come from the primary.
    /// </summary>
    public async Task<Page<ConversationSummaryRecord>> ListAsync(Guid userId, int limit, string? cursor, CancellationToken ct)
    {
        var after = cursor is null ? (Cursor?)null : cursors.Decode(cursor, userId, CursorKind.ConversationList);
        var (items, fromPrimary) = await router.ReadAsync(ReadOperation.ConversationList, userId,
            async (conn, primary, token) => (await ReadListAsync(conn, userId, limit, after, token), primary), ct);
        if (!fromPrimary && items.Count > 0)
        {
            var unread = await UnreadCountsAsync(userId, items.Select(i => i.Id).ToArray(), ct);
            items = items.Select(i => i with { UnreadCount = unread.GetValueOrDefault(i.Id) }).ToList();
        }
        string? next = null;
        if (items.Count > limit)
        {
            items.RemoveAt(limit);
            var tail = items[^1];
            next = cursors.Encode(new Cursor(CursorKind.ConversationList, tail.UpdatedAt, tail.Id), userId);
        }
        return new Page<ConversationSummaryRecord>(items, next);
    }

    private static async Task<List<ConversationSummaryRecord>> ReadListAsync(NpgsqlConnection conn, Guid userId, int limit, Cursor? after, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(after is null ? ListFirstPageSql : ListNextPageSql, conn);
        cmd.Parameters.Add(new() { Value = userId });
        cmd.Parameters.Add(new() { Value = limit + 1 });
        if (after is { } position)
        {
            cmd.Parameters.Add(new() { Value = position.At });
            cmd.Parameters.Add(new() { Value = position.Id });
        }
        var items = new List<ConversationSummaryRecord>(limit + 1);
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var id = reader.GetGuid(0);
            var last = reader.IsDBNull(3) ? null : new MessageRecord(
                reader.GetGuid(3), id, reader.GetGuid(4), reader.GetString(5), reader.GetDateTime(6),
                reader.IsDBNull(7) ? null : reader.GetString(7));
            items.Add(new ConversationSummaryRecord(
                id, reader.IsDBNull(1) ? null : reader.GetString(1), reader.GetDateTime(2), last, reader.GetInt64(8)));
        }
        return items;
    }

    private async Task<Dictionary<Guid, long>> UnreadCountsAsync(Guid userId, Guid[] conversationIds, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(UnreadCountsSql);
        cmd.Parameters.Add(new() { Value = userId });
        cmd.Parameters.Add(new() { Value = conversationIds });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var counts = new Dictionary<Guid, long>();
        while (await reader.ReadAsync(ct)) counts[reader.GetGuid(0)] = reader.GetInt64(1);
        return counts;
    }

    public async Task<Outcome<IReadOnlyList<ParticipantRecord>>> ListParticipantsAsync(Guid id, Guid userId, CancellationToken ct)
    {
        if (ConversationAccess.Deny<IReadOnlyList<ParticipantRecord>>(await access.CheckAsync(id, userId, ct)) is { } denied) return denied;
        await using var conn = await db.Primary.OpenConnectionAsync(ct);
        return Outcome<IReadOnlyList<ParticipantRecord>>.Ok(await ReadParticipantsAsync(conn, null, id, ct));
    }

    public async Task<Outcome<ParticipantRecord>> AddParticipantAsync(Guid id, Guid userId, Guid newUserId, CancellationToken ct)
    {
        if (ConversationAccess.Deny<ParticipantRecord>(await access.CheckAsync(id, userId, ct), ownerOnly: true) is { } denied) return denied;
        await using var cmd = db.Primary.CreateCommand(AddParticipantSql);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = newUserId });
        cmd.Parameters.Add(new() { Value = Clock.UtcNowMs(time) });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct))
            return Outcome<ParticipantRecord>.Fail(OutcomeStatus.NotFound, $"No user with id {newUserId}.");
        if (!reader.GetBoolean(3))
            return Outcome<ParticipantRecord>.Fail(OutcomeStatus.NotFound, "No such conversation.");
        return reader.IsDBNull(1)
            ? Outcome<ParticipantRecord>.Fail(OutcomeStatus.Conflict, "The user is already a participant.")
            : Outcome<ParticipantRecord>.Ok(new ParticipantRecord(newUserId, reader.GetString(0), reader.GetString(1), reader.GetDateTime(2)));
    }

    /// <summary>The owner removes anyone but itself; a member removes only itself.</summary>
    public async Task<Outcome<bool>> RemoveParticipantAsync(Guid id, Guid userId, Guid removedUserId, CancellationToken ct)
    {
        var level = await access.CheckAsync(id, userId, ct);
        if (ConversationAccess.Deny<bool>(level) is { } denied) return denied;
        if (level == AccessLevel.Member && removedUserId != userId)
            return Outcome<bool>.Fail(OutcomeStatus.Forbidden, "Members may remove only themselves.");
        if (level == AccessLevel.Owner && removedUserId == userId)
            return Outcome<bool>.Fail(OutcomeStatus.Conflict, "The owner cannot leave; delete the conversation instead.");
        await using var cmd = db.Primary.CreateCommand(RemoveParticipantSql);
        cmd.Parameters.Add(new() { Value = id });
        cmd.Parameters.Add(new() { Value = removedUserId });
        return await cmd.ExecuteNonQueryAsync(ct) == 1
            ? Outcome<bool>.Ok(true)
            : Outcome<bool>.Fail(OutcomeStatus.NotFound, "The user is not a participant.");
    }

    /// <summary>The conversation's current participants, from the primary.</summary>
    public async Task<Guid[]> ParticipantIdsAsync(Guid id, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand("SELECT user_id FROM participants WHERE conversation_id = $1");
        cmd.Parameters.Add(new() { Value = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var ids = new List<Guid>();
        while (await reader.ReadAsync(ct)) ids.Add(reader.GetGuid(0));
        return [.. ids];
    }

    private static async Task<ConversationRecord?> ReadAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(SelectSql, conn, tx);
        cmd.Parameters.Add(new() { Value = id });
        Guid owner; string? title; int version; DateTime created, updated;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            if (!await reader.ReadAsync(ct)) return null;
            title = reader.IsDBNull(1) ? null : reader.GetString(1);
            owner = reader.GetGuid(2);
            version = reader.GetInt32(3);
            created = reader.GetDateTime(4);
            updated = reader.GetDateTime(5);
        }
        return new ConversationRecord(id, title, owner, version, created, updated, await ReadParticipantsAsync(conn, tx, id, ct));
    }

    private static async Task<IReadOnlyList<ParticipantRecord>> ReadParticipantsAsync(NpgsqlConnection conn, NpgsqlTransaction? tx, Guid id, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(SelectParticipantsSql, conn, tx);
        cmd.Parameters.Add(new() { Value = id });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var list = new List<ParticipantRecord>();
        while (await reader.ReadAsync(ct))
            list.Add(new ParticipantRecord(reader.GetGuid(0), reader.GetString(1), reader.GetString(2), reader.GetDateTime(3)));
        return list;
    }
}
