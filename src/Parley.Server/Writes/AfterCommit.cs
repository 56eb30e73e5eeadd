using Parley.Server.Caching;
using Parley.Server.Delivery;

namespace Parley.Server.Writes;

/// <summary>
/// The one step after a successful write, before it answers: the cached reads it made stale are invalidated (and, for a
/// membership change, every node's participant sets), then this node's outbox dispatcher is woken so the write's event
/// leaves at once instead of at the next poll. It never fails the request: the write committed, and what could not be
/// invalidated is retired by the cache's epoch (<see cref="CachedReads.InvalidateAsync"/>).
/// </summary>
public sealed class AfterCommit(CachedReads cache, OutboxDispatcher dispatcher)
{
    public async Task RunAsync(WriteChange change, CancellationToken ct)
    {
        await cache.InvalidateAsync(change, ct);
        if (change.Event) dispatcher.Wake();
    }
}
