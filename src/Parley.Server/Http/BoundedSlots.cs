using System.Threading.RateLimiting;

namespace Parley.Server.Http;

/// <summary>
/// A <see cref="ConcurrencyLimiter"/> whose queue and wait are both bounded: <see cref="EnterAsync"/>
/// gives a lease, or null at once when the queue is full, or null when the wait ran out.
/// </summary>
public sealed class BoundedSlots(int permits, int queueLength, TimeSpan maxWait) : IDisposable
{
    private readonly ConcurrencyLimiter _limiter = new(new ConcurrencyLimiterOptions
    {
        PermitLimit = permits,
        QueueLimit = queueLength,
        QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
    });

    public async ValueTask<RateLimitLease?> EnterAsync(CancellationToken ct)
    {
        // A free slot needs no timer.
        var lease = _limiter.AttemptAcquire(1);
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(ct);
        wait.CancelAfter(maxWait);
        try
        {
            lease = await _limiter.AcquireAsync(1, wait.Token);
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return null;
        }
        if (lease.IsAcquired) return lease;
        lease.Dispose();
        return null;
    }

    public void Dispose() => _limiter.Dispose();
}
