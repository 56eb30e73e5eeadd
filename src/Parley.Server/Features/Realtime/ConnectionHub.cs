using System.Collections.Concurrent;
using System.Collections.Immutable;

namespace Parley.Server.Features.Realtime;

/// <summary>This node's open sockets, by user. The stream consumer fans events out through it.</summary>
public sealed class ConnectionHub
{
    private readonly ConcurrentDictionary<Guid, ImmutableArray<RealtimeConnection>> _byUser = new();
    private int _count;

    public int Count => Volatile.Read(ref _count);

    public void Register(RealtimeConnection connection)
    {
        _byUser.AddOrUpdate(connection.UserId, static (_, c) => [c], static (_, list, c) => list.Add(c), connection);
        Interlocked.Increment(ref _count);
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
