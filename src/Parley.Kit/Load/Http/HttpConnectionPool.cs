using System.Diagnostics;

namespace Parley.Kit.Load.Http;

/// <summary>
/// At most <see cref="LoopbackHttpOptions.MaxConnections"/> connections to one origin: idle ones are reused last in,
/// first out (the warmest); when all are busy a request waits, first come first served, for one to come back or for
/// a slot to open (a broken connection frees its slot). With one connection it is a virtual user's own, like wrk's.
/// </summary>
internal sealed class HttpConnectionPool(HttpOrigin origin, LoopbackHttpOptions options) : IDisposable
{
    private readonly Lock _gate = new();
    private readonly Stack<HttpConnection> _idle = new();
    private readonly Queue<TaskCompletionSource<HttpConnection?>> _waiters = new();
    private int _count;
    private bool _disposed;

    /// <summary>Open connections, idle and busy.</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _count;
        }
    }

    /// <summary>A connection for one request: an idle one, a new one if a slot is free, else the next one returned.</summary>
    public ValueTask<HttpConnection> RentAsync(long deadline, CancellationToken ct)
    {
        TaskCompletionSource<HttpConnection?> waiter;
        List<HttpConnection>? stale = null;
        try
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                while (_idle.TryPop(out var idle))
                {
                    if (Stopwatch.GetElapsedTime(idle.IdleSince) < options.IdleTimeout) return ValueTask.FromResult(idle);
                    // The server may have closed it meanwhile; the ones below are idle even longer (last in, first out).
                    (stale ??= []).Add(idle);
                    _count--;
                }
                if (_count < options.MaxConnections)
                {
                    _count++;
                    return ConnectAsync(ct);
                }
                waiter = new TaskCompletionSource<HttpConnection?>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters.Enqueue(waiter);
            }
        }
        finally
        {
            foreach (var connection in stale ?? []) connection.Dispose();
        }
        return WaitAsync(waiter, deadline, ct);
    }

    private async ValueTask<HttpConnection> WaitAsync(TaskCompletionSource<HttpConnection?> waiter, long deadline, CancellationToken ct)
    {
        HttpConnection? connection;
        try
        {
            var remaining = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), deadline);
            connection = await waiter.Task.WaitAsync(remaining > TimeSpan.Zero ? remaining : TimeSpan.Zero, ct).ConfigureAwait(false);
        }
        catch (Exception e) when (e is TimeoutException or OperationCanceledException)
        {
            if (waiter.TrySetCanceled())
            {
                if (e is TimeoutException) throw HttpErrors.Timeout(options.RequestTimeout);
                throw;
            }
            // Handed a connection (or a slot) as the wait ended: give it back.
            connection = waiter.Task.Result;
            if (connection is null) Release();
            else Return(connection);
            if (e is TimeoutException) throw HttpErrors.Timeout(options.RequestTimeout);
            throw;
        }
        return connection ?? await ConnectAsync(ct).ConfigureAwait(false);
    }

    /// <summary>Opens a connection in a slot already counted; frees the slot when that fails.</summary>
    private async ValueTask<HttpConnection> ConnectAsync(CancellationToken ct)
    {
        try
        {
            return await HttpConnection.ConnectAsync(origin, options, ct).ConfigureAwait(false);
        }
        catch
        {
            Release();
            throw;
        }
    }

    /// <summary>Takes a connection back: idle for the next request if it can carry one, else closed and its slot freed.</summary>
    public void Return(HttpConnection connection)
    {
        if (!connection.Reusable)
        {
            connection.Dispose();
            Release();
            return;
        }
        lock (_gate)
        {
            if (!_disposed)
            {
                while (_waiters.TryDequeue(out var waiter))
                {
                    if (waiter.TrySetResult(connection)) return;
                }
                connection.IdleSince = Stopwatch.GetTimestamp();
                _idle.Push(connection);
                return;
            }
        }
        connection.Dispose();
    }

    /// <summary>A slot came free: the first waiter may open a connection in it, or the count drops.</summary>
    private void Release()
    {
        lock (_gate)
        {
            while (_waiters.TryDequeue(out var waiter))
            {
                if (waiter.TrySetResult(null)) return;
            }
            _count--;
        }
    }

    public void Dispose()
    {
        HttpConnection[] idle;
        lock (_gate)
        {
            if (_disposed) return;
            _disposed = true;
            idle = [.. _idle];
            _idle.Clear();
            _count -= idle.Length;
            while (_waiters.TryDequeue(out var waiter)) waiter.TrySetException(new ObjectDisposedException(nameof(LoopbackHttpClient)));
        }
        foreach (var connection in idle) connection.Dispose();
    }
}
