using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Parley.Server.Features.Realtime;

/// <summary>This node's open sockets, by user. The stream consumer fans events out through it.</summary>
public sealed class ConnectionHub
{
    private readonly ConcurrentDictionary<Guid, ImmutableArray<RealtimeConnection>> _byUser = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// Adds <paramref name="connection"/>; when its user then has more than <paramref name="maxPerUser"/>
    /// open sockets here, the oldest are closed with <see cref="CloseCodes.TooManySockets"/> (the newest
    /// is the one a user is looking at).
    /// </summary>
    public void Register(RealtimeConnection connection, int maxPerUser)
    {
        var list = _byUser.AddOrUpdate(connection.UserId, static (_, c) => [c], static (_, list, c) => list.Add(c), connection);
        Interlocked.Increment(ref _count);
        var open = list.Where(c => !c.IsClosing).ToList();
        foreach (var oldest in open.Take(open.Count - maxPerUser)) oldest.RequestClose(CloseCodes.TooManySockets);
    }

    /// <summary>Closes <paramref name="userId"/>'s sockets here that were opened in session <paramref name="sessionId"/>.</summary>
    public void CloseSession(Guid userId, Guid sessionId, int code)
    {
        foreach (var connection in ConnectionsOf(userId))
            if (connection.SessionId == sessionId) connection.RequestClose(code);
    }

    public void Unregister(RealtimeConnection connection)
    {
        while (_byUser.TryGetValue(connection.UserId, out var list))
        {
            var next = list.Remove(connection);
            if (next.Length == list.Length) return;
            var done = next.IsEmpty
                ? _byUser.TryRemove(KeyValuePair.Create(connection.UserId, list))
                : _byUser.TryUpdate(connection.UserId, next, list);
            if (done)
            {
                Interlocked.Decrement(ref _count);
                return;
            }
        }
    }

    /// <summary>Users with at least one socket here (a snapshot).</summary>
    public Guid[] Users() => [.. _byUser.Keys];

    public ImmutableArray<RealtimeConnection> ConnectionsOf(Guid userId) =>
        _byUser.TryGetValue(userId, out var list) ? list : [];

    public IEnumerable<RealtimeConnection> All() => _byUser.Values.SelectMany(l => l);
}
