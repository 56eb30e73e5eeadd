using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Data.Conversations;
using Parley.Data.Flags;
using Parley.Data.Messages;

namespace Parley.Server.Caching;

/// <summary>
/// The cached reads (first history page, first conversation-list page, each behind its flag) and
/// the invalidation every write performs before it answers.
/// </summary>
public sealed class CachedReads(
    ReadCache cache, FeatureFlags flags, ConversationAccess access, MessageStore messages, ConversationStore conversations,
    MembershipSync membership, IOptions<JsonOptions> json)
{
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    public async Task<Outcome<Page<MessageRecord>>> HistoryAsync(
        Guid conversationId, Guid userId, int limit, string? cursor, Guid? after, CancellationToken ct)
    {
        if (cursor is not null || after is not null || !flags.IsEnabled(FlagNames.HistoryCache, userId))
            return await messages.PageAsync(conversationId, userId, limit, cursor, after, ct);
        // Membership is always checked on the primary, so a removed user never reads the cache.
        if (ConversationAccess.Deny<Page<MessageRecord>>(await access.CheckAsync(conversationId, userId, ct)) is { } denied) return denied;
        var scope = ReadCache.Conversation(conversationId);
        var name = $"h{limit}";
        var lookup = await cache.GetAsync(scope, name, ct);
        if (lookup.Value is { } bytes)
            return Outcome<Page<MessageRecord>>.Ok(JsonSerializer.Deserialize<Page<MessageRecord>>(bytes, _json)!);
        var outcome = await messages.PageAsync(conversationId, userId, limit, null, null, ct);
        if (outcome.Status == OutcomeStatus.Ok && lookup.Stamp is { } stamp)
            await cache.SetAsync(scope, name, stamp, JsonSerializer.SerializeToUtf8Bytes(outcome.Value, _json), ct);
        return outcome;
    }

    public async Task<Page<ConversationSummaryRecord>> ConversationsAsync(Guid userId, int limit, string? cursor, CancellationToken ct)
    {
        if (cursor is not null || !flags.IsEnabled(FlagNames.ListCache, userId))
            return await conversations.ListAsync(userId, limit, cursor, ct);
        var scope = ReadCache.User(userId);
        var name = $"l{limit}";
        var lookup = await cache.GetAsync(scope, name, ct);
        if (lookup.Value is { } bytes)
            return JsonSerializer.Deserialize<Page<ConversationSummaryRecord>>(bytes, _json)!;
        var page = await conversations.ListAsync(userId, limit, null, ct);
        if (lookup.Stamp is { } stamp)
            await cache.SetAsync(scope, name, stamp, JsonSerializer.SerializeToUtf8Bytes(page, _json), ct);
        return page;
    }

    /// <summary>A conversation changed (message, title, deletion, membership): its history and every participant's list.</summary>
    public async Task ConversationChangedAsync(Guid conversationId, CancellationToken ct, params Guid[] alsoUsers)
    {
        var participants = await conversations.ParticipantIdsAsync(conversationId, ct);
        var scopes = participants.Concat(alsoUsers).Distinct().Select(ReadCache.User).Append(ReadCache.Conversation(conversationId)).ToArray();
        await cache.InvalidateAsync(scopes, ct);
    }

    /// <summary>Who belongs to the conversation changed (or it was deleted): participant sets on every node, then as above.</summary>
    public async Task MembershipChangedAsync(Guid conversationId, CancellationToken ct, params Guid[] alsoUsers)
    {
        await membership.PublishAsync(conversationId, ct);
        await ConversationChangedAsync(conversationId, ct, alsoUsers);
    }

    /// <summary>Only this user's list changed (its read marker, or it joined a new conversation).</summary>
    public Task UserChangedAsync(CancellationToken ct, params Guid[] userIds) =>
        cache.InvalidateAsync(userIds.Select(ReadCache.User).ToArray(), ct);
}
