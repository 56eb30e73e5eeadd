using Npgsql;

namespace Parley.Data.Conversations;

/// <summary>What a user may do with a conversation.</summary>
public enum AccessLevel
{
    /// <summary>No such conversation, or it was deleted.</summary>
    NotFound,
    /// <summary>The conversation exists but the user is not a participant.</summary>
    Outsider,
    Member,
    Owner,
}

/// <summary>
/// Answers "may this user touch this conversation" from the node's participant sets when they are
/// kept current, else from the primary, so a removal counts at once.
/// </summary>
public sealed class ConversationAccess(ParleyDatabase db, MembershipCache cache)
{
    internal const string Sql = """
        SELECT p.role FROM conversations c
        LEFT JOIN participants p ON p.conversation_id = c.id AND p.user_id = $2
        WHERE c.id = $1 AND c.deleted_at IS NULL
        """;

    internal const string MembersSql = """
        SELECT p.user_id, p.role FROM conversations c
        LEFT JOIN participants p ON p.conversation_id = c.id
        WHERE c.id = $1 AND c.deleted_at IS NULL
        """;

    public async Task<AccessLevel> CheckAsync(Guid conversationId, Guid userId, CancellationToken ct)
    {
        if (cache.Enabled)
        {
            if (!cache.TryGet(conversationId, out var members))
                members = new ConversationMembers(await LoadMembersAsync(conversationId, ct), 0);
            return Level(members.Roles, userId);
        }
        await using var cmd = db.Primary.CreateCommand(Sql);
        cmd.Parameters.Add(new() { Value = conversationId });
        cmd.Parameters.Add(new() { Value = userId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return AccessLevel.NotFound;
        if (reader.IsDBNull(0)) return AccessLevel.Outsider;
        return reader.GetString(0) == Roles.Owner ? AccessLevel.Owner : AccessLevel.Member;
    }

    /// <summary>The conversation's participants (from the node's sets when current); null when it is deleted or missing.</summary>
    public async Task<IReadOnlyCollection<Guid>?> MemberIdsAsync(Guid conversationId, CancellationToken ct)
    {
        var roles = cache.Enabled && cache.TryGet(conversationId, out var members) ? members.Roles : await LoadMembersAsync(conversationId, ct);
        return roles?.Keys as IReadOnlyCollection<Guid> ?? roles?.Keys.ToArray();
    }

    private async Task<IReadOnlyDictionary<Guid, string>?> LoadMembersAsync(Guid conversationId, CancellationToken ct)
    {
        var epoch = cache.Epoch;
        await using var cmd = db.Primary.CreateCommand(MembersSql);
        cmd.Parameters.Add(new() { Value = conversationId });
        Dictionary<Guid, string>? roles = null;
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                roles ??= new Dictionary<Guid, string>();
                if (!reader.IsDBNull(0)) roles[reader.GetGuid(0)] = reader.GetString(1);
            }
        }
        cache.Put(conversationId, roles, epoch);
        return roles;
    }

    private static AccessLevel Level(IReadOnlyDictionary<Guid, string>? roles, Guid userId) =>
        roles is null ? AccessLevel.NotFound
        : !roles.TryGetValue(userId, out var role) ? AccessLevel.Outsider
        : role == Roles.Owner ? AccessLevel.Owner : AccessLevel.Member;

    /// <summary>Maps a failed access check onto an outcome; null when the user may go on.</summary>
    public static Outcome<T>? Deny<T>(AccessLevel level, bool ownerOnly = false) => level switch
    {
        AccessLevel.NotFound => Outcome<T>.Fail(OutcomeStatus.NotFound, "No such conversation."),
        AccessLevel.Outsider => Outcome<T>.Fail(OutcomeStatus.Forbidden, "You are not a participant of this conversation."),
        AccessLevel.Member when ownerOnly => Outcome<T>.Fail(OutcomeStatus.Forbidden, "Only the conversation's owner may do this."),
        _ => null,
    };
}
