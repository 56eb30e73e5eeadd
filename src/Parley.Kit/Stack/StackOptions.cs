using System.Text.RegularExpressions;

namespace Parley.Kit.Stack;

/// <summary>What <see cref="LocalStack.StartAsync"/> starts and where.</summary>
public sealed partial record StackOptions
{
    /// <summary>
    /// Directory for <c>stack.json</c> (and, as an ordinary user, the data directories).
    /// Null: a fresh temporary directory, deleted on stop. <c>parley up</c> passes <c>&lt;repo&gt;/.parley</c>.
    /// </summary>
    public string? RootDirectory { get; init; }

    /// <summary>PostgreSQL primary. Default: true.</summary>
    public bool WithPrimary { get; init; } = true;

    /// <summary>Streaming replica cloned from the primary with pg_basebackup. Needs the primary. Default: true.</summary>
    public bool WithReplica { get; init; } = true;

    /// <summary>PgBouncer in transaction pooling mode in front of the primary. Needs the primary. Default: true.</summary>
    public bool WithPgBouncer { get; init; } = true;

    /// <summary>redis-server: without persistence, or with an append-only file when <see cref="Durable"/>. Default: true.</summary>
    public bool WithRedis { get; init; } = true;

    /// <summary>
    /// A local SMTP server (Debian's python3-aiosmtpd) for the observer's email actions: no authentication, every mail
    /// it accepts is a file in <see cref="LocalStack.SmtpMaildir"/>. Default: false.
    /// </summary>
    public bool WithSmtp { get; init; }

    /// <summary>
    /// Debian's Prometheus server, scraping what <see cref="LocalStack.SetPrometheusTargets"/> names every
    /// <see cref="PrometheusScrapeInterval"/>; <c>parley canary run --prometheus</c> can judge from it. Default: false.
    /// </summary>
    public bool WithPrometheus { get; init; }

    /// <summary>How often Prometheus scrapes its targets (whole seconds, at least 1). Default: 5 seconds.</summary>
    public TimeSpan PrometheusScrapeInterval { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Keep the data across stops and reuse it on the next start, as <c>parley up</c> does: initdb and pg_basebackup run only
    /// when a component's data is missing (a replica that cannot catch up is cloned again), Redis appends to an AOF
    /// (fsync every second), and each component gets its previous port back while that port is free. Needs
    /// <see cref="RootDirectory"/>. Default: false (fresh data, deleted on stop, as tests want).
    /// </summary>
    public bool Durable { get; init; }

    /// <summary>
    /// Redis <c>maxmemory</c> in megabytes, with policy <c>noeviction</c>: a full Redis refuses writes (the cache breaker skips
    /// them) and never evicts a key, so the event stream is never cut short. Default: 256.
    /// </summary>
    public int RedisMaxMemoryMegabytes { get; init; } = 256;

    /// <summary>
    /// Synchronous replication: a commit on the primary returns once the replica has flushed it (synchronous_standby_names names
    /// the replica, synchronous_commit = on), so a primary lost with its disk loses no acknowledged write. A commit waits while
    /// the replica is down (until statement_timeout, after which it stands committed on the primary alone). Needs the replica.
    /// Default: false (tests stop the replica); <c>parley up</c> turns it on.
    /// </summary>
    public bool SynchronousReplica { get; init; }

    /// <summary>
    /// WAL archiving for point-in-time recovery: every completed WAL segment copied into <c>&lt;data&gt;/wal-archive</c> (archive_mode,
    /// archive_command; both servers, so a promoted replica continues it), for <see cref="LocalStack.BaseBackupAsync"/> and
    /// <see cref="LocalStack.RecoverToAsync"/>. It grows by 16 MB per segment until <see cref="LocalStack.PruneBaseBackupsAsync"/> prunes it. Default: false.
    /// </summary>
    public bool WalArchive { get; init; }

    /// <summary>
    /// A component whose process exits by itself (a PostgreSQL that PANICs and whose crash restart fails, an OOM kill) is started
    /// again, checked every second, retried after 1 s doubling to 30 s while its start fails; a component stopped or killed through
    /// the stack, or by a failover, is left alone. Default: false (chaos tests kill components on purpose); <c>parley up</c> turns it on.
    /// </summary>
    public bool Supervise { get; init; }

    /// <summary>
    /// The primary's PostgreSQL data directory (pg_wal included) at this path instead of <c>&lt;data&gt;/primary</c>, e.g. on a small
    /// filesystem a test mounts to fill up. Created by the launcher (owned by <c>postgres</c> when run as root) and, unless
    /// <see cref="Durable"/>, deleted on stop; its parent must exist, and the path must be short enough for PostgreSQL's socket
    /// in it (about 80 characters). Default: null.
    /// </summary>
    public string? PrimaryDataDirectory { get; init; }

    /// <summary>Database created on the primary; letters, digits and underscores. Default: <c>parley</c>.</summary>
    public string Database { get; init; } = "parley";

    /// <summary>How long each component may take to become ready. Default: 60 seconds.</summary>
    public TimeSpan ReadyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Process whose death tears the stack down (even on kill -9). Default: the current process.</summary>
    public int? OwnerPid { get; init; }

    internal void Validate()
    {
        if (!WithPrimary && (WithReplica || WithPgBouncer))
            throw new ArgumentException("WithReplica and WithPgBouncer need WithPrimary = true.");
        if (WalArchive && !WithPrimary)
            throw new ArgumentException("WalArchive needs WithPrimary = true.");
        if (PrimaryDataDirectory is not null && (!WithPrimary || PrimaryDataDirectory.Length == 0))
            throw new ArgumentException("PrimaryDataDirectory needs WithPrimary = true and a path.");
        if (SynchronousReplica && !WithReplica)
            throw new ArgumentException("SynchronousReplica needs WithReplica = true.");
        if (!DatabaseName().IsMatch(Database))
            throw new ArgumentException($"Database '{Database}' must be 1-63 letters, digits or underscores, starting with a letter.");
        if (Durable && RootDirectory is null)
            throw new ArgumentException("Durable needs a RootDirectory to keep the data under.");
        if (RedisMaxMemoryMegabytes <= 0)
            throw new ArgumentException("RedisMaxMemoryMegabytes must be positive.");
        if (PrometheusScrapeInterval < TimeSpan.FromSeconds(1))
            throw new ArgumentException("PrometheusScrapeInterval must be at least 1 second.");
        if (ReadyTimeout <= TimeSpan.Zero)
            throw new ArgumentException("ReadyTimeout must be positive.");
        if (OwnerPid is <= 0)
            throw new ArgumentException("OwnerPid must be a process id.");
    }

    [GeneratedRegex("^[A-Za-z][A-Za-z0-9_]{0,62}$")]
    private static partial Regex DatabaseName();
}
