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

/// <summary>Answers "may this user touch this conversation", always from the primary so a removal counts at once.</summary>
public sealed class ConversationAccess(ParleyDatabase db)
{
    internal const string Sql = """
        SELECT p.role FROM conversations c
        LEFT JOIN participants p ON p.conversation_id = c.id AND p.user_id = $2
        WHERE c.id = $1 AND c.deleted_at IS NULL
        """;

    public async Task<AccessLevel> CheckAsync(Guid conversationId, Guid userId, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(Sql);
        cmd.Parameters.Add(new() { Value = conversationId });
        cmd.Parameters.Add(new() { Value = userId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        if (!await reader.ReadAsync(ct)) return AccessLevel.NotFound;
        if (reader.IsDBNull(0)) return AccessLevel.Outsider;
        return reader.GetString(0) == Roles.Owner ? AccessLevel.Owner : AccessLevel.Member;
    }

    /// <summary>Maps a failed access check onto an outcome; null when the user may go on.</summary>
    public static Outcome<T>? Deny<T>(AccessLevel level, bool ownerOnly = false) => level switch
    {
        AccessLevel.NotFound => Outcome<T>.Fail(OutcomeStatus.NotFound, "No such conversation."),
        AccessLevel.Outsider => Outcome<T>.Fail(OutcomeStatus.Forbidden, "You are not a participant of this conversation."),
        AccessLevel.Member when ownerOnly => Outcome<T>.Fail(OutcomeStatus.Forbidden, "Only the conversation's owner may do this."),
        _ => null,
    };
}
