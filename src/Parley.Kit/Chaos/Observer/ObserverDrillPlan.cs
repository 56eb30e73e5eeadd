namespace Parley.Kit.Chaos.Observer;

/// <summary>What an observer drill does to its group (<see cref="ObserverDrill"/>).</summary>
public enum ObserverFault
{
    /// <summary>The leader SIGKILLed; restarted (as a standby) when the fault is removed.</summary>
    LeaderKill,

    /// <summary>The leader SIGSTOPped with its sockets open; SIGCONT when removed.</summary>
    LeaderPause,

    /// <summary>Everything between the leader and PostgreSQL dropped (its own fault proxy); healed when removed.</summary>
    LeaderPartition,

    /// <summary>A standby SIGKILLed; restarted when removed. The leader must not change.</summary>
    StandbyKill,

    /// <summary>PostgreSQL stopped for every observer; started again when removed.</summary>
    DatabaseOutage,

    /// <summary>A second endpoint of every event hangs (a receiver that would take 100 s); fast again when removed.</summary>
    SlowEndpoint,

    /// <summary>Redis stopped (the dedup's fast path); started again when removed.</summary>
    RedisOutage,

    /// <summary>An observer SIGKILLed while actions it claimed run at a receiver that holds them; restarted when removed.</summary>
    WorkerKill,
}

/// <summary>The traffic, group and timeline of an observer drill. Every wait is bounded by <see cref="Bound"/>.</summary>
public sealed record ObserverDrillPlan
{
    public required ObserverFault Fault { get; init; }

    /// <summary>Observer processes in the group (the first started leads).</summary>
    public int Observers { get; init; } = 2;

    /// <summary>Rows inserted per second into the drill's table throughout the run (one event and one webhook each).</summary>
    public double InsertsPerSecond { get; init; } = 20;

    /// <summary>Rows inserted in one statement just before the fault, and just after its removal (seed E2E 4: 1,000 and 1,000).</summary>
    public int BatchBefore { get; init; }

    public int BatchAfter { get; init; }

    public TimeSpan Baseline { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>The fault lasts this long, and for leader faults at least until a new leader reads the slot.</summary>
    public TimeSpan FaultDuration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Traffic after the removal.</summary>
    public TimeSpan Recovery { get; init; } = TimeSpan.FromSeconds(4);

    /// <summary>The longest any awaited event (a leader, a takeover, every delivery) may take before the drill gives up on it.</summary>
    public TimeSpan Bound { get; init; } = TimeSpan.FromSeconds(90);

    /// <summary>The observers' lease and check interval (<c>Parley:Observer:LeaseDuration</c>, <c>LeaseCheckInterval</c>): the documented defaults.</summary>
    public TimeSpan LeaseDuration { get; init; } = TimeSpan.FromSeconds(5);

    public TimeSpan LeaseCheckInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>A delivery later than this after its row's insert counts as late.</summary>
    public TimeSpan LateAfter { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>More <c>Parley:…</c> settings for every observer.</summary>
    public IReadOnlyDictionary<string, string?>? Overrides { get; init; }

    /// <summary>The lease-based bound on a takeover: the lease lapses, a standby's next check takes it, its session starts (≈ 2 checks).</summary>
    public TimeSpan TakeoverBound => LeaseDuration + 3 * LeaseCheckInterval;
}
