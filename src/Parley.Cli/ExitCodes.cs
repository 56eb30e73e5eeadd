namespace Parley.Cli;

/// <summary>What <c>parley</c>'s exit code means. <see cref="Table"/> is printed by <c>parley --help</c>.</summary>
public static class ExitCodes
{
    /// <summary>Done; for <c>status</c>: everything runs.</summary>
    public const int Ok = 0;

    /// <summary>The operation failed; for <c>status</c>: nothing runs.</summary>
    public const int Failure = 1;

    /// <summary>Bad arguments or invalid configuration.</summary>
    public const int Usage = 2;

    /// <summary><c>status</c>: some components run, some are down.</summary>
    public const int Degraded = 3;

    /// <summary>A system binary (postgres, pgbouncer, redis-server) is not installed; the message says what to apt-get install.</summary>
    public const int MissingBinary = 4;

    /// <summary><c>up</c>: a local stack already runs from this root; <c>reset</c>: refuses while it runs.</summary>
    public const int AlreadyRunning = 5;

    /// <summary><c>load</c>: an SLO gate was breached.</summary>
    public const int GateBreached = 6;

    /// <summary><c>load</c>: a gate had no data to judge by (never a pass).</summary>
    public const int GateInconclusive = 7;

    /// <summary><c>doctor</c>: the database differs from what its migrations define.</summary>
    public const int Drift = 10;

    /// <summary>Stopped by Ctrl-C or SIGTERM before it was done.</summary>
    public const int Interrupted = 130;

    public const string Table = """
        Exit codes:
          0    ok (status: everything runs)
          1    failed (status: nothing runs)
          2    bad arguments or invalid configuration
          3    status: some components are down
          4    a system binary is missing (the message says what to apt-get install)
          5    up, reset: a stack already runs from this root (run `parley down`)
          6    load: an SLO gate was breached
          7    load: a gate had no data (inconclusive, never a pass)
          8    canary run: rolled back (a check failed; flag at 0%)
          9    canary run: held too long without enough data
          10   doctor: the database differs from its migrations
          130  interrupted
        """;
}
