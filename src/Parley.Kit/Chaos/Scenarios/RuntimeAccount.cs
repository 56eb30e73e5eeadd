using System.Diagnostics;
using System.Globalization;
using Parley.Kit.Load.Sampling;

namespace Parley.Kit.Chaos.Scenarios;

/// <summary>
/// Where the time of a fault window went besides the product: the machine's CPU (busy, steal, load), this process's GC
/// pauses and scheduling delay, and each node's CPU, GC pauses and thread-pool queue (its <c>/metrics</c>). A latency
/// criterion that fails with the machine or the client stalled reads differently from one the server caused.
/// </summary>
internal sealed class RuntimeAccount : IDisposable
{
    private static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(10);
    private static readonly long Started = Stopwatch.GetTimestamp();
    private readonly IReadOnlyList<Uri> _nodes;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(2) };
    private readonly Thread _ticker;
    private readonly Func<double> _now;
    private volatile bool _stopped;
    private Snapshot? _baseline;
    private Snapshot? _start;
    private (double Ms, double AtMs) _worstSleep;
    private (double Ms, double AtMs) _worstPool;

    public RuntimeAccount(IReadOnlyList<Uri> nodes, Func<double> nowMs)
    {
        _nodes = nodes;
        _now = nowMs;
        // A dedicated thread, so its own lateness is the OS's and the GC's, and the work item it queues measures the pool.
        _ticker = new Thread(MeasureScheduling) { IsBackground = true, Name = "chaos-runtime-account" };
    }

    /// <summary>Called when traffic starts: the nodes' CPU from here to <see cref="BeginAsync"/> is the baseline's.</summary>
    public async Task BaselineAsync() => _baseline = await SnapshotAsync().ConfigureAwait(false);

    public async Task BeginAsync()
    {
        _start = await SnapshotAsync().ConfigureAwait(false);
        _ticker.Start();
    }

    /// <summary>One note on the window since <see cref="BeginAsync"/>; null when it was never begun.</summary>
    public async Task<string?> EndAsync(double windowStartMs)
    {
        _stopped = true;
        if (_start is not { } start) return null;
        var end = await SnapshotAsync().ConfigureAwait(false);
        var total = end.CpuTotal - start.CpuTotal;
        var busy = total > 0 ? 100.0 * (total - (end.CpuIdle - start.CpuIdle)) / total : 0;
        var steal = total > 0 ? 100.0 * (end.CpuSteal - start.CpuSteal) / total : 0;
        var parts = new List<string>
        {
            Invariant($"machine busy {busy:0}% (steal {steal:0}%), load {end.Load1}, io stalls {(end.IoStall.Some - start.IoStall.Some) / 1000:0} ms (all tasks {(end.IoStall.Full - start.IoStall.Full) / 1000:0} ms)"),
            Invariant($"client GC {(end.ClientGcPause - start.ClientGcPause).TotalMilliseconds:0} ms, worst sleep overshoot {_worstSleep.Ms:0} ms at +{_worstSleep.AtMs - windowStartMs:0}, worst thread-pool wait {_worstPool.Ms:0} ms at +{_worstPool.AtMs - windowStartMs:0}"),
        };
        for (var i = 0; i < _nodes.Count; i++)
        {
            var (a, b) = (start.Nodes[i], end.Nodes[i]);
            var before = _baseline?.Nodes[i] is { } z && (start.At - _baseline.At).TotalSeconds is > 0 and var seconds
                ? Invariant($" (baseline {(a!.Cpu - z.Cpu) / seconds:0.00} s/s)") : "";
            parts.Add(a is null || b is null
                ? $"node {i}: no /metrics"
                : Invariant($"node {i}: cpu {(b.Cpu - a.Cpu) / (end.At - start.At).TotalSeconds:0.00} s/s{before}, GC {1000 * (b.GcPause - a.GcPause):0} ms ({b.Gen2 - a.Gen2:0} gen2), thread-pool queue {b.PoolQueue:0}"));
        }
        return "runtime during the fault: " + string.Join("; ", parts);
    }

    public void Dispose()
    {
        _stopped = true;
        _http.Dispose();
    }

    private void MeasureScheduling()
    {
        using var ran = new ManualResetEventSlim();
        while (!_stopped)
        {
            var asleep = Stopwatch.GetTimestamp();
            Thread.Sleep(Tick);
            var overshoot = (Stopwatch.GetElapsedTime(asleep) - Tick).TotalMilliseconds;
            if (overshoot > _worstSleep.Ms) _worstSleep = (overshoot, _now());
            ran.Reset();
            var queued = Stopwatch.GetTimestamp();
            ThreadPool.UnsafeQueueUserWorkItem(static e => e.Set(), ran, preferLocal: false);
            if (!ran.Wait(TimeSpan.FromSeconds(5))) continue;
            var wait = Stopwatch.GetElapsedTime(queued).TotalMilliseconds;
            if (wait > _worstPool.Ms) _worstPool = (wait, _now());
        }
    }

    private async Task<Snapshot> SnapshotAsync()
    {
        var nodes = await Task.WhenAll(_nodes.Select(NodeAsync)).ConfigureAwait(false);
        var (total, idle, steal) = ReadCpu();
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "n/a";
        return new Snapshot(Stopwatch.GetElapsedTime(Started), total, idle, steal, load, ReadIoPressure(), GC.GetTotalPauseDuration(), nodes);
    }

    private async Task<NodeFigures?> NodeAsync(Uri node)
    {
        try
        {
            var samples = PrometheusText.Parse(await _http.GetStringAsync(new Uri(node, "metrics")).ConfigureAwait(false));
            double Sum(string name, Func<PrometheusSample, bool>? where = null) =>
                samples.Where(s => s.Name == name && (where?.Invoke(s) ?? true)).Sum(s => s.Value);
            return new NodeFigures(
                Sum("dotnet_process_cpu_time_seconds_total"),
                Sum("dotnet_gc_pause_time_seconds_total"),
                Sum("dotnet_gc_collections_total", s => s.Labels.TryGetValue("gc_heap_generation", out var g) && g == "gen2"),
                Sum("dotnet_thread_pool_queue_length"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    // /proc/stat's first line: user nice system idle iowait irq softirq steal … (jiffies); idle counts iowait too.
    private static (double Total, double Idle, double Steal) ReadCpu()
    {
        if (!File.Exists("/proc/stat")) return (0, 0, 0);
        var fields = File.ReadLines("/proc/stat").First().Split(' ', StringSplitOptions.RemoveEmptyEntries).Skip(1)
            .Select(f => double.Parse(f, CultureInfo.InvariantCulture)).ToArray();
        return (fields.Take(8).Sum(), fields[3] + fields[4], fields.Length > 7 ? fields[7] : 0);
    }

    // /proc/pressure/io: "some … total=µs" (time at least one task waited on IO) and "full … total=µs" (every runnable task did).
    private static (double Some, double Full) ReadIoPressure()
    {
        if (!File.Exists("/proc/pressure/io")) return (0, 0);
        var totals = File.ReadLines("/proc/pressure/io")
            .Select(line => double.Parse(line[(line.LastIndexOf("total=", StringComparison.Ordinal) + 6)..], CultureInfo.InvariantCulture)).ToArray();
        return (totals[0], totals.Length > 1 ? totals[1] : 0);
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);

    private sealed record NodeFigures(double Cpu, double GcPause, double Gen2, double PoolQueue);

    private sealed record Snapshot(TimeSpan At, double CpuTotal, double CpuIdle, double CpuSteal, string Load1, (double Some, double Full) IoStall, TimeSpan ClientGcPause, NodeFigures?[] Nodes);
}
