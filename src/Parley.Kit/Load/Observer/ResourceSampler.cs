using System.Globalization;
using Npgsql;

namespace Parley.Kit.Load.Observer;

/// <summary>
/// What the observers' processes used while a load run's rows went in: resident memory (after warm-up, at the end of
/// inserting, peak), CPU seconds over inserting and draining, and the database's connections (all of them, inserters
/// included: stable is what matters). In-process observers share their process with the receiver and the kit's inserter.
/// </summary>
public sealed record ResourceUsage(
    int Samples, double RssStartMb, double RssEndMb, double RssPeakMb, double CpuSeconds, double CpuMsPerEvent, long ConnectionsMin, long ConnectionsMax)
{
    /// <summary>End of inserting against after warm-up (a fifth into it).</summary>
    public double RssGrowth => RssStartMb <= 0 ? 0 : RssEndMb / RssStartMb - 1;
}

/// <summary>Samples /proc for the given processes and pg_stat_activity once a second until stopped.</summary>
internal sealed class ResourceSampler : IAsyncDisposable
{
    private static readonly TimeSpan Interval = TimeSpan.FromSeconds(1);

    // Linux's USER_HZ, the unit of /proc/PID/stat's utime and stime, is 100 on every architecture .NET runs on.
    private const double TicksPerSecond = 100;

    private readonly List<(double RssMb, double CpuSeconds, long? Connections)> _samples = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;

    private ResourceSampler(NpgsqlDataSource db, IReadOnlyList<int> pids) => _loop = LoopAsync(db, pids);

    public static ResourceSampler Start(NpgsqlDataSource db, IReadOnlyList<int> pids) => new(db, pids);

    public int Count
    {
        get
        {
            lock (_samples) return _samples.Count;
        }
    }

    /// <summary>Stops sampling; the memory figures are of the first <paramref name="insertSamples"/> samples (the inserting).</summary>
    public async Task<ResourceUsage> StopAsync(int insertSamples)
    {
        await DisposeAsync().ConfigureAwait(false);
        List<(double RssMb, double CpuSeconds, long? Connections)> s;
        lock (_samples) s = [.. _samples];
        if (s.Count == 0) return new ResourceUsage(0, 0, 0, 0, 0, 0, 0, 0);
        var inserting = s.Take(Math.Clamp(insertSamples, 1, s.Count)).ToList();
        var end = inserting.TakeLast(3).Average(x => x.RssMb);
        var connections = s.Where(x => x.Connections is not null).Select(x => x.Connections!.Value).DefaultIfEmpty(0).ToList();
        return new ResourceUsage(
            s.Count, inserting[inserting.Count / 5].RssMb, end, s.Max(x => x.RssMb), s[^1].CpuSeconds - s[0].CpuSeconds, 0,
            connections.Min(), connections.Max());
    }

    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested) await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
    }

    private async Task LoopAsync(NpgsqlDataSource db, IReadOnlyList<int> pids)
    {
        await Task.Yield();
        while (!_stop.IsCancellationRequested)
        {
            var rss = 0.0;
            var cpu = 0.0;
            foreach (var pid in pids)
            {
                (var r, var c) = Read(pid);
                rss += r;
                cpu += c;
            }
            long? connections = null;
            try
            {
                await using var cmd = db.CreateCommand("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()");
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stop.Token);
                timeout.CancelAfter(TimeSpan.FromSeconds(5));
                connections = (long)(await cmd.ExecuteScalarAsync(timeout.Token).ConfigureAwait(false))!;
            }
            catch (Exception e) when (e is NpgsqlException or OperationCanceledException)
            {
                // a missed reading, not a failed run
            }
            lock (_samples) _samples.Add((rss, cpu, connections));
            try
            {
                await Task.Delay(Interval, _stop.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    /// <summary>Resident MB and CPU seconds (user + system) of <paramref name="pid"/>; zeros once it is gone.</summary>
    private static (double RssMb, double CpuSeconds) Read(int pid)
    {
        try
        {
            var rssKb = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)) is { } line
                ? double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture)
                : 0;
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th of them.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            return (rssKb / 1024, ticks / TicksPerSecond);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or IndexOutOfRangeException)
        {
            return (0, 0);
        }
    }
}
