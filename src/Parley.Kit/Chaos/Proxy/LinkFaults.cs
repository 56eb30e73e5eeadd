namespace Parley.Kit.Chaos.Proxy;

/// <summary>Which way through a <see cref="FaultProxy"/> a fault applies.</summary>
[Flags]
public enum FaultDirection
{
    /// <summary>Client to server (requests).</summary>
    Upstream = 1,

    /// <summary>Server to client (responses).</summary>
    Downstream = 2,

    Both = Upstream | Downstream,
}

/// <summary>Toxiproxy's slicer: splits each chunk into pieces of about <see cref="AverageSize"/> bytes with a pause between them.</summary>
public sealed record Slicer(int AverageSize, int SizeVariation, TimeSpan Delay)
{
    internal void Validate()
    {
        if (AverageSize < 1 || SizeVariation < 0 || SizeVariation >= AverageSize)
            throw new ArgumentException("Slicer needs AverageSize ≥ 1 and 0 ≤ SizeVariation < AverageSize.");
        if (Delay < TimeSpan.Zero || Delay > LinkFaults.MaxDelay)
            throw new ArgumentException($"Slicer delay must be within 0..{LinkFaults.MaxDelay}.");
    }
}

/// <summary>See <see cref="LinkFaults.ResetOnContent"/>; <see cref="Pattern"/> is matched within one chunk (16 KB at most).</summary>
public sealed record ContentReset(byte[] Pattern, double Probability)
{
    internal bool Fires(ReadOnlySpan<byte> chunk) => chunk.IndexOf(Pattern) >= 0 && Random.Shared.NextDouble() < Probability;

    internal void Validate()
    {
        if (Pattern is not { Length: > 0 }) throw new ArgumentException("ContentReset needs a pattern of at least one byte.");
        if (Probability is not (> 0 and <= 1)) throw new ArgumentException("ContentReset's probability must be in (0, 1].");
    }
}

/// <summary>See <see cref="LinkFaults.LatencyOnContent"/>; <see cref="Pattern"/> is matched within one chunk (16 KB at most).</summary>
public sealed record ContentDelay(byte[] Pattern, TimeSpan Delay)
{
    internal bool Matches(ReadOnlySpan<byte> chunk) => chunk.IndexOf(Pattern) >= 0;

    internal void Validate()
    {
        if (Pattern is not { Length: > 0 }) throw new ArgumentException("ContentDelay needs a pattern of at least one byte.");
        if (Delay <= TimeSpan.Zero || Delay > LinkFaults.MaxDelay) throw new ArgumentException($"ContentDelay's delay must be within (0, {LinkFaults.MaxDelay}].");
    }
}

/// <summary>
/// The faults on one direction of a <see cref="FaultProxy"/>: Toxiproxy's toxics, all off by default. Immutable; a proxy swaps
/// the whole set atomically, so a connection sees either the old or the new faults for each chunk, never a mix.
/// </summary>
public sealed record LinkFaults
{
    /// <summary>No fault: bytes pass through unchanged.</summary>
    public static LinkFaults None { get; } = new();

    /// <summary>The longest delay any fault may ask for, so every wait in the proxy stays bounded.</summary>
    public static readonly TimeSpan MaxDelay = TimeSpan.FromMinutes(10);

    /// <summary>Each chunk arrives this much later than it was read (pipelined, so throughput is kept). Toxiproxy: latency.</summary>
    public TimeSpan Latency { get; init; }

    /// <summary>Latency varies uniformly by ± this much per chunk (never below zero). Toxiproxy: latency jitter.</summary>
    public TimeSpan Jitter { get; init; }

    /// <summary>At most this many bytes per second. Toxiproxy: bandwidth.</summary>
    public long? BandwidthBytesPerSecond { get; init; }

    /// <summary>When the sending side closes, wait this long before closing the other. Toxiproxy: slow_close.</summary>
    public TimeSpan? SlowClose { get; init; }

    /// <summary>
    /// Data is swallowed (a partition); with a positive value the connection is also closed that long after the fault
    /// started, with zero it stays open and silent until the fault is removed. New connections are accepted and then hang.
    /// Toxiproxy: timeout.
    /// </summary>
    public TimeSpan? Timeout { get; init; }

    /// <summary>
    /// Nothing passes, but nothing is lost either: data waits in the proxy (and, once its queue is full, in the kernel's
    /// buffers) and goes on, in order, when the fault is removed, unless a side closed first. This is a real partition
    /// (iptables DROP: TCP retransmits until the path heals), where a byte stream never loses bytes in its middle.
    /// <see cref="Timeout"/> instead swallows data as Toxiproxy does, which no real network does to an open connection.
    /// </summary>
    public bool Hold { get; init; }

    /// <summary>The connection is reset (TCP RST) this long after the fault started or the connection opened. Toxiproxy: reset_peer.</summary>
    public TimeSpan? ResetPeer { get; init; }

    /// <summary>Chunks are split into small pieces with pauses between them. Toxiproxy: slicer.</summary>
    public Slicer? Slicer { get; init; }

    /// <summary>The connection is closed once this many bytes have passed in this direction since the fault started. Toxiproxy: limit_data.</summary>
    public long? LimitBytes { get; init; }

    /// <summary>
    /// A chunk that contains <see cref="ContentReset.Pattern"/> resets its connection (TCP RST) instead of passing, with
    /// <see cref="ContentReset.Probability"/>: a fault of one kind of traffic on a shared link, e.g. the rows of one query
    /// failing while a health probe on the same pool goes on. No Toxiproxy toxic does this.
    /// </summary>
    public ContentReset? ResetOnContent { get; init; }

    /// <summary>
    /// A chunk that contains <see cref="ContentDelay.Pattern"/> arrives <see cref="ContentDelay.Delay"/> later than it was
    /// read (after any <see cref="Latency"/>): one kind of traffic slowed on a shared link, e.g. the rows of one query while a
    /// health probe on the same pool stays fast. No Toxiproxy toxic does this.
    /// </summary>
    public ContentDelay? LatencyOnContent { get; init; }

    /// <summary>True when no fault is set.</summary>
    public bool IsNone => this == None;

    /// <summary>Toxiproxy's timeout=0: data swallowed, connections left hanging until the fault is removed.</summary>
    public static LinkFaults Blackhole { get; } = new() { Timeout = TimeSpan.Zero };

    /// <summary>A network partition: data held (see <see cref="Hold"/>), connections left hanging until the fault is removed.</summary>
    public static LinkFaults Partitioned { get; } = new() { Hold = true };

    internal void Validate()
    {
        static void InRange(TimeSpan? value, string name)
        {
            if (value is { } v && (v < TimeSpan.Zero || v > MaxDelay))
                throw new ArgumentException($"{name} must be within 0..{MaxDelay}, not {v}.");
        }
        InRange(Latency, nameof(Latency));
        InRange(Jitter, nameof(Jitter));
        InRange(SlowClose, nameof(SlowClose));
        InRange(Timeout, nameof(Timeout));
        InRange(ResetPeer, nameof(ResetPeer));
        if (BandwidthBytesPerSecond is <= 0)
            throw new ArgumentException("BandwidthBytesPerSecond must be positive.");
        if (LimitBytes is < 0)
            throw new ArgumentException("LimitBytes must not be negative.");
        Slicer?.Validate();
        ResetOnContent?.Validate();
        LatencyOnContent?.Validate();
    }

    /// <summary>A short description for logs and reports, e.g. <c>latency=200ms±50ms timeout=0s</c>; <c>none</c> when clean.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (Latency > TimeSpan.Zero || Jitter > TimeSpan.Zero) parts.Add($"latency={Latency.TotalMilliseconds:0}ms±{Jitter.TotalMilliseconds:0}ms");
        if (BandwidthBytesPerSecond is { } rate) parts.Add($"bandwidth={rate}B/s");
        if (SlowClose is { } slow) parts.Add($"slow_close={slow.TotalMilliseconds:0}ms");
        if (Timeout is { } timeout) parts.Add($"timeout={timeout.TotalMilliseconds:0}ms");
        if (Hold) parts.Add("hold");
        if (ResetPeer is { } reset) parts.Add($"reset_peer={reset.TotalMilliseconds:0}ms");
        if (Slicer is { } slicer) parts.Add($"slicer={slicer.AverageSize}±{slicer.SizeVariation}B/{slicer.Delay.TotalMilliseconds:0}ms");
        if (LimitBytes is { } limit) parts.Add($"limit_data={limit}B");
        if (ResetOnContent is { } content) parts.Add($"reset_on_content={content.Pattern.Length}B@{content.Probability:0.##}");
        if (LatencyOnContent is { } slowed) parts.Add($"latency_on_content={slowed.Pattern.Length}B+{slowed.Delay.TotalMilliseconds:0}ms");
        return parts.Count == 0 ? "none" : string.Join(' ', parts);
    }
}
