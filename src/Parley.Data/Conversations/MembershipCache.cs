using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace Parley.Data.Conversations;

/// <summary>A conversation's members as loaded from the primary: user → role; null when deleted or missing.</summary>
public sealed record ConversationMembers(IReadOnlyDictionary<Guid, string>? Roles, long LoadedAtTicks);

/// <summary>
/// This node's copy of participant sets, so access checks need no database round trip. It is
/// only used while something keeps it current (<see cref="Enabled"/>: the server turns it on
/// while its pub/sub subscription is up); every membership change invalidates the conversation
/// here and on every other node. A load that raced an invalidation is not kept (global epoch),
/// and entries expire after <see cref="MaxAge"/> whatever happens, bounding any staleness.
/// </summary>
public sealed class MembershipCache(TimeProvider time)
{
    private static readonly Counter<long> Lookups = DataMetrics.Meter.CreateCounter<long>(
        "parley.membership.cache.lookups", "{lookup}", "Participant-set lookups by result: hit, miss or bypass.");

    private readonly ConcurrentDictionary<Guid, ConversationMembers> _entries = new();
    private long _epoch;
    private volatile bool _enabled;

    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(10);
    private const int MaxEntries = 100_000;

    public bool Enabled => _enabled;

    public int Count => _entries.Count;

    /// <summary>Turns the cache on or off; either way everything cached so far is dropped.</summary>
    public void SetEnabled(bool enabled)
    {
        _enabled = enabled;
        Clear();
    }

    public long Epoch => Interlocked.Read(ref _epoch);

    public bool TryGet(Guid conversationId, out ConversationMembers members)
    {
        if (!_enabled)
        {
            Lookups.Add(1, new KeyValuePair<string, object?>("result", "bypass"));
            members = null!;
            return false;
        }
        if (_entries.TryGetValue(conversationId, out members!) && time.GetUtcNow().UtcTicks - members.LoadedAtTicks < MaxAge.Ticks)
        {
            Lookups.Add(1, new KeyValuePair<string, object?>("result", "hit"));
            return true;
        }
        Lookups.Add(1, new KeyValuePair<string, object?>("result", "miss"));
        return false;
    }

    /// <summary>Keeps a set loaded when the epoch was <paramref name="epochAtLoad"/>, unless something was invalidated since.</summary>
    public void Put(Guid conversationId, IReadOnlyDictionary<Guid, string>? roles, long epochAtLoad)
    {
        if (!_enabled || Epoch != epochAtLoad) return;
        if (_entries.Count >= MaxEntries) _entries.Clear();
        _entries[conversationId] = new ConversationMembers(roles, time.GetUtcNow().UtcTicks);
    }

    public void Invalidate(Guid conversationId)
    {
        Interlocked.Increment(ref _epoch);
        _entries.TryRemove(conversationId, out _);
    }

    public void Clear()
    {
        Interlocked.Increment(ref _epoch);
        _entries.Clear();
    }
}
