namespace Parley.Kit.Load.Observer;

/// <summary>What inserts the rows of a load run.</summary>
public enum Inserter
{
    /// <summary>The kit itself, in this process (beside in-process observers and the receiver).</summary>
    Kit,

    /// <summary>PostgreSQL's pgbench, a process of its own (with its own throttle, <c>-R</c>): the observers are not slowed by their inserter, and the reference is pgbench's own ceiling.</summary>
    Pgbench,
}

/// <summary>What <c>parley load observer</c> does (<see cref="ObserverLoad"/>). Every default is on its property.</summary>
public sealed record ObserverLoadOptions
{
    /// <summary>Rows inserted per second (each an event with one webhook). Default 1,000 (the seed's target).</summary>
    public double Rate { get; init; } = 1_000;

    /// <summary>How long rows are inserted. Default 30 s.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Observer processes of the group (one leads, the others stand by and run claimed actions). Default 1.</summary>
    public int Listeners { get; init; } = 1;

    /// <summary>Bytes of text in each row (so in each event and webhook body). Default 200.</summary>
    public int EventBytes { get; init; } = 200;

    /// <summary>Database connections inserting at once. Default 8 (as bench/observer.sh's pgbench).</summary>
    public int Connections { get; init; } = 8;

    /// <summary>
    /// Rows per transaction (pgbench only): one <c>INSERT … SELECT … FROM generate_series</c> commits this many, at
    /// <see cref="Rate"/> / this transactions per second, so the offered event rate is not capped by commits (each waits for
    /// the synchronous replica). Default 1.
    /// </summary>
    public int RowsPerTransaction { get; init; } = 1;

    /// <summary>What inserts the rows (and the reference rows). Default <see cref="Inserter.Kit"/>.</summary>
    public Inserter Inserter { get; init; } = Inserter.Kit;

    /// <summary>A webhook that arrives later than this after its row's insert counts as late. Default 100 ms (the seed's P99 target).</summary>
    public TimeSpan LateAfter { get; init; } = TimeSpan.FromMilliseconds(100);

    /// <summary>How long after the last insert webhooks may still arrive before the missing ones count as lost. Default 60 s.</summary>
    public TimeSpan Drain { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// How long rows go in at <see cref="Rate"/> before the measured ones, delivered and not counted (0: none): the observer
    /// processes of a run are new, and their first seconds go to the JIT (tiered compilation), not to events. Default 10 s.
    /// </summary>
    public TimeSpan Warmup { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>How long the same-run reference inserts, unthrottled, into a table no rule reads (0: none). Default 10 s.</summary>
    public TimeSpan Reference { get; init; } = TimeSpan.FromSeconds(10);

    public void Validate()
    {
        if (Rate is <= 0 or > 100_000) throw new ArgumentOutOfRangeException(nameof(Rate), Rate, "between 0 and 100,000 rows/s");
        if (Warmup < TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Warmup), Warmup, "0 or more");
        if (Duration <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(Duration), Duration, "positive");
        if (Listeners is < 1 or > 16) throw new ArgumentOutOfRangeException(nameof(Listeners), Listeners, "1 to 16");
        if (EventBytes is < 0 or > 1_000_000) throw new ArgumentOutOfRangeException(nameof(EventBytes), EventBytes, "0 to 1,000,000");
        if (Connections is < 1 or > 256) throw new ArgumentOutOfRangeException(nameof(Connections), Connections, "1 to 256");
        if (RowsPerTransaction is < 1 or > 10_000) throw new ArgumentOutOfRangeException(nameof(RowsPerTransaction), RowsPerTransaction, "1 to 10,000");
        if (RowsPerTransaction > 1 && Inserter != Inserter.Pgbench) throw new ArgumentOutOfRangeException(nameof(RowsPerTransaction), RowsPerTransaction, "more than 1 row per transaction needs the pgbench inserter");
    }
}
