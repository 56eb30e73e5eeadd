namespace Parley.Kit.Chaos.Traffic;

/// <summary>Open-model traffic: starts operation i at start + i / rate, at most <c>maxInFlight</c> at once, until the duration or the count is reached.</summary>
public static class RateLoop
{
    public static async Task RunAsync(double perSecond, TimeSpan duration, int maxInFlight, Func<int, Task> operation, CancellationToken ct = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(perSecond, 0);
        var count = (int)Math.Min(1_000_000, Math.Ceiling(perSecond * duration.TotalSeconds));
        using var gate = new SemaphoreSlim(maxInFlight);
        var running = new List<Task>(count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        for (var i = 0; i < count && !ct.IsCancellationRequested; i++)
        {
            var due = TimeSpan.FromSeconds(i / perSecond);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, ct).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
            if (!await gate.WaitAsync(TimeSpan.FromSeconds(60), ct).ConfigureAwait(false)) break;
            var n = i;
            running.Add(Task.Run(async () =>
            {
                try { await operation(n).ConfigureAwait(false); }
                finally { gate.Release(); }
            }, CancellationToken.None));
        }
        await Task.WhenAll(running).ConfigureAwait(false);
    }
}
