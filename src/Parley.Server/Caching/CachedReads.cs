using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Data.Conversations;
using Parley.Data.Flags;
using Parley.Data.Messages;
using Parley.Server.Writes;

namespace Parley.Server.Caching;

/// <summary>A read the cache answered: the value from the database, or the cached JSON (<see cref="Json"/>) to send as it is.</summary>
public readonly record struct Cached<T>(T? Value, byte[]? Json);

/// <summary>
/// The cached reads (first history page, first conversation-list page, each behind its flag) as store outcomes, and
/// the invalidation every write performs before it answers (<see cref="InvalidateAsync"/>, from <see cref="AfterCommit"/>).
/// The invalidations run after the write committed, so they never fail the request: whatever goes wrong is logged and
/// covered by the epoch.
/// </summary>
public sealed partial class CachedReads(
    ReadCache cache, FeatureFlags flags, ConversationAccess access, MessageStore messages, ConversationStore conversations,
    MembershipSync membership, IOptions<JsonOptions> json, ILogger<CachedReads> logger)
{
    private readonly JsonSerializerOptions _json = json.Value.SerializerOptions;

    /// <summary>A history page; cached JSON is handed back as it is, never re-serialised.</summary>
    public Task<Outcome<Cached<Page<MessageRecord>>>> HistoryAsync(
        Guid conversationId, Guid userId, int limit, string? cursor, Guid? after, CancellationToken ct)
    {
        async Task<Outcome<Cached<Page<MessageRecord>>>> FromDatabase() => Uncached(await messages.PageAsync(conversationId, userId, limit, cursor, after, ct));
        if (cursor is not null || after is not null) return FromDatabase();
        return MeasuredAsync(FlagNames.HistoryCache, userId, FromDatabase, async measure =>
        {
            // Membership is checked before the cache is read, so a removed user never reads it.
            if (ConversationAccess.Deny<Page<MessageRecord>>(await access.CheckAsync(conversationId, userId, ct)) is { } denied)
                return Uncached(denied);
            return await ReadThroughAsync(ReadCache.Conversation(conversationId), $"h{limit}",
                async () => await messages.PageAsync(conversationId, userId, limit, null, null, ct), measure, ct);
        }, ct);
    }

    public Task<Outcome<Cached<Page<ConversationSummaryRecord>>>> ConversationsAsync(Guid userId, int limit, string? cursor, CancellationToken ct)
    {
        async Task<Outcome<Cached<Page<ConversationSummaryRecord>>>> FromDatabase() =>
            Uncached(Outcome<Page<ConversationSummaryRecord>>.Ok(await conversations.ListAsync(userId, limit, cursor, ct)));
        if (cursor is not null) return FromDatabase();
        return MeasuredAsync(FlagNames.ListCache, userId, FromDatabase, measure => ReadThroughAsync(ReadCache.User(userId), $"l{limit}",
            async () => Outcome<Page<ConversationSummaryRecord>>.Ok(await conversations.ListAsync(userId, limit, null, ct)), measure, ct), ct);
    }

    private static Outcome<Cached<T>> Uncached<T>(Outcome<T> outcome) => new(outcome.Status, new Cached<T>(outcome.Value, null), outcome.Detail);

    // A first page is what a cache flag decides: counted by the flag's variant for the user (FlagVariantMetrics), so a
    // canary of the cache compares both in the same window. Outcome fallback: the cache could not be asked.
    private async Task<T> MeasuredAsync<T>(string flag, Guid userId, Func<Task<T>> withoutCache,
        Func<FlagVariantMetrics.Measurement, Task<T>> withCache, CancellationToken ct)
    {
        var on = flags.IsEnabled(flag, userId);
        var measure = new FlagVariantMetrics.Measurement(flag, on);
        try
        {
            var result = on ? await withCache(measure) : await withoutCache();
            measure.Complete(measure.Outcome ?? FlagVariantMetrics.Ok);
            return result;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            measure.Complete(FlagVariantMetrics.Error);
            throw;
        }
    }

    private async Task<Outcome<Cached<T>>> ReadThroughAsync<T>(string scope, string name, Func<Task<Outcome<T>>> load, FlagVariantMetrics.Measurement measure, CancellationToken ct)
    {
        var lookup = await cache.GetAsync(scope, name, ct);
        if (lookup.Value is { } cached) return Outcome<Cached<T>>.Ok(new Cached<T>(default, cached));
        if (lookup.Stamp is null) measure.Outcome = FlagVariantMetrics.Fallback;
        var outcome = await load();
        if (outcome.Status != OutcomeStatus.Ok) return Uncached(outcome);
        var json = JsonSerializer.SerializeToUtf8Bytes(outcome.Value, _json);
        if (lookup.Stamp is { } stamp) await cache.SetAsync(scope, name, stamp, json, ct);
        return Outcome<Cached<T>>.Ok(new Cached<T>(outcome.Value, json));
    }

    /// <summary>
    /// Invalidates what <paramref name="change"/> made stale: a conversation's history and every participant's list, after
    /// a membership change every node's participant sets first, or only some users' lists.
    /// </summary>
    public Task InvalidateAsync(WriteChange change, CancellationToken ct) => change.Scope switch
    {
        WriteScope.Conversation => AfterCommitAsync(() => InvalidateConversationAsync(change.ConversationId, change.Users, ct)),
        WriteScope.Membership => AfterCommitAsync(async () =>
        {
            await membership.PublishAsync(change.ConversationId, ct);
            await InvalidateConversationAsync(change.ConversationId, change.Users, ct);
        }),
        WriteScope.Users => AfterCommitAsync(() => cache.InvalidateAsync(change.Users.Select(ReadCache.User).ToArray(), ct)),
        _ => Task.CompletedTask,
    };

    private async Task InvalidateConversationAsync(Guid conversationId, IReadOnlyList<Guid> alsoUsers, CancellationToken ct)
    {
        // From this node's participant sets when current; a deleted conversation's members come from its rows.
        var participants = await access.MemberIdsAsync(conversationId, ct) ?? await conversations.ParticipantIdsAsync(conversationId, ct);
        var scopes = participants.Concat(alsoUsers).Distinct().Select(ReadCache.User).Append(ReadCache.Conversation(conversationId)).ToArray();
        await cache.InvalidateAsync(scopes, ct);
    }

    // The write committed: its answer is its success status whatever fails here (the participant lookup, the
    // publish, a cancelled request). What could not be invalidated is retired by the epoch.
    private async Task AfterCommitAsync(Func<Task> invalidate)
    {
        try
        {
            await invalidate();
        }
        catch (Exception e)
        {
            cache.RetireAll();
            LogInvalidationFailed(logger, e.GetType().Name, e.Message);
        }
    }

    [LoggerMessage(EventId = 1204, Level = LogLevel.Warning, Message = "Cache invalidation after a committed write failed ({Type}: {Reason}); every cached entry is retired instead")]
    private static partial void LogInvalidationFailed(ILogger logger, string type, string reason);
}
