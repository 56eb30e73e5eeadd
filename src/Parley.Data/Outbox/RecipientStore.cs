using Npgsql;

namespace Parley.Data.Outbox;

/// <summary>
/// Membership as delivery sees it, always read from the primary: delivery is decided at delivery
/// time, so a participant removed a moment ago receives nothing more.
/// </summary>
public sealed class RecipientStore(ParleyDatabase db)
{
    internal const string MembersSql = """
        SELECT conversation_id, user_id FROM participants
        WHERE conversation_id = ANY($1) AND user_id = ANY($2)
        """;

    internal const string ConversationsOfSql = "SELECT conversation_id FROM participants WHERE user_id = $1";

    /// <summary>Which of <paramref name="users"/> currently belong to each of <paramref name="conversations"/>.</summary>
    public async Task<Dictionary<Guid, List<Guid>>> CurrentMembersAsync(Guid[] conversations, Guid[] users, CancellationToken ct)
    {
        var result = new Dictionary<Guid, List<Guid>>();
        if (conversations.Length == 0 || users.Length == 0) return result;
        await using var cmd = db.Primary.CreateCommand(MembersSql);
        cmd.Parameters.Add(new() { Value = conversations });
        cmd.Parameters.Add(new() { Value = users });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        while (await reader.ReadAsync(ct))
        {
            var conversation = reader.GetGuid(0);
            if (!result.TryGetValue(conversation, out var list)) result[conversation] = list = [];
            list.Add(reader.GetGuid(1));
        }
        return result;
    }

    /// <summary>The conversations <paramref name="userId"/> belongs to now.</summary>
    public async Task<HashSet<Guid>> ConversationsOfAsync(Guid userId, CancellationToken ct)
    {
        await using var cmd = db.Primary.CreateCommand(ConversationsOfSql);
        cmd.Parameters.Add(new() { Value = userId });
        await using var reader = await cmd.ExecuteReaderAsync(ct);
        var set = new HashSet<Guid>();
        while (await reader.ReadAsync(ct)) set.Add(reader.GetGuid(0));
        return set;
    }
}
