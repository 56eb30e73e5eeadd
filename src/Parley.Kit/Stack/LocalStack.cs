using System.Diagnostics;
using System.Text.Json;
using Npgsql;
using Parley.Kit.Stack.Internal;

namespace Parley.Kit.Stack;

/// <summary>
/// A throwaway PostgreSQL primary + streaming replica + PgBouncer + Redis on ephemeral 127.0.0.1 ports.
/// A detached watchdog stops everything when the owner process dies, even by kill -9;
/// <see cref="StopAsync"/> (or <see cref="StopFromStateAsync"/> from another process) does it on purpose.
/// </summary>
public sealed partial class LocalStack : IAsyncDisposable
{
    private static readonly TimeSpan ExitStopTimeout = TimeSpan.FromSeconds(30);

    private readonly StackLayout _layout;
    private readonly StackEnvironment _env;
    private readonly int _ownerPid;
    private readonly string _database;
    private bool _synchronousReplica;
    private readonly string? _primaryDataElsewhere;
    private readonly PostgresPrimary? _primary;
    private readonly PostgresReplica? _replica;
    private readonly PgBouncerServer? _pgBouncer;
    private readonly RedisServer? _redis;
    private readonly SmtpServer? _smtp;
    private readonly PrometheusServer? _prometheus;
    private HaproxyServer? _balancer;
    private IReadOnlyList<StackComponent> _components;
    private readonly Lock _lock = new();
    private int? _watchdogPid;
    private Task? _stopTask;
    private readonly bool _supervise;
    private readonly int _redisMaxMemoryMegabytes;

    private LocalStack(StackOptions options, StackLayout layout, StackEnvironment env)
    {
        _layout = layout;
        _env = env;
        _ownerPid = options.OwnerPid ?? Environment.ProcessId;
        _database = options.Database;
        _synchronousReplica = options.SynchronousReplica;
        _supervise = options.Supervise;
        _redisMaxMemoryMegabytes = options.RedisMaxMemoryMegabytes;
        var data = layout.DataDirectory;
        _primary = options.WithPrimary ? new PostgresPrimary(data, env, options.Database) : null;
        if (options.PrimaryDataDirectory is { } primaryData)
            _primary!.Directory = _primaryDataElsewhere = Path.GetFullPath(primaryData);
        _replica = options.WithReplica ? new PostgresReplica(data, env, _primary!) : null;
        if (options.WalArchive)
        {
            foreach (var server in new PostgresServer?[] { _primary, _replica }.OfType<PostgresServer>())
                server.WalArchiveDirectory = layout.WalArchiveDirectory;
        }
        // A failover left the primary in the replica's directory (and the other way round): a durable stack keeps those roles.
        if (_primary is not null && _replica is not null && File.Exists(layout.PrimaryRoleFile)
            && File.ReadAllText(layout.PrimaryRoleFile).Trim() == _replica.Name)
            PostgresServer.SwapRoles(_primary, _replica);
        _pgBouncer = options.WithPgBouncer ? new PgBouncerServer(data, env, _primary!, options.Database) : null;
        _redis = options.WithRedis ? new RedisServer(data, env, options.Durable, options.RedisMaxMemoryMegabytes) : null;
        _smtp = options.WithSmtp ? new SmtpServer(data, env) : null;
        _prometheus = options.WithPrometheus ? new PrometheusServer(data, env, StackBinaries.LocatePrometheus(), options.PrometheusScrapeInterval) : null;
        _components = Drivers.Select(driver => new StackComponent(driver, WriteState)).ToList();
    }

    /// <summary>Where stack.json lives: <see cref="StackOptions.RootDirectory"/>, or the temporary directory created for this stack.</summary>
    public string RootDirectory => _layout.RootDirectory;

    /// <summary>Where the components keep their data, sockets and logs (see <see cref="StackOptions.Durable"/>).</summary>
    public string DataDirectory => _layout.DataDirectory;

    /// <summary>Trust auth as <c>parley</c> to the stack's database on the primary.</summary>
    public string PrimaryConnectionString => _primary?.ConnectionString(_database) ?? throw NotStarted("a primary");

    public string? ReplicaConnectionString => _replica?.ConnectionString(_database);

    // Npgsql multi-host with Target Session Attributes, straight to the two servers: PgBouncer 1.18 takes one address per database
    // (a failover re-points it, FailoverAsync), whereas these strings find the writable server by themselves, whichever it is,
    // re-checking a server's role every second (Host Recheck Seconds; Npgsql's default 10 s would keep a promoted server "standby").
    private string FollowingConnectionString(string targetSessionAttributes) =>
        $"Host=127.0.0.1:{_primary!.Port},127.0.0.1:{_replica!.Port};Username={PostgresServer.User};Database={_database};" +
        $"Target Session Attributes={targetSessionAttributes};Host Recheck Seconds=1";

    /// <summary>
    /// Both servers, the writable one chosen at each connect (read-write): writes follow a failover (<see cref="FailoverAsync"/>) with
    /// no change of settings. Without a replica, <see cref="PrimaryConnectionString"/>.
    /// </summary>
    public string FollowingPrimaryConnectionString => _replica is null ? PrimaryConnectionString : FollowingConnectionString("read-write");

    /// <summary>Both servers, the standby preferred (prefer-standby; the primary while no standby answers), or null without a replica.</summary>
    public string? FollowingReplicaConnectionString => _replica is null ? null : FollowingConnectionString("prefer-standby");

    /// <summary>Through PgBouncer, with the Npgsql settings transaction pooling needs.</summary>
    public string? PgBouncerConnectionString => _pgBouncer?.ConnectionString;

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string? RedisEndpoint => _redis?.Endpoint;

    /// <summary>The SMTP server's port on 127.0.0.1 (no authentication, no TLS), when started with <see cref="StackOptions.WithSmtp"/>.</summary>
    public int? SmtpPort => _smtp?.Port;

    /// <summary>The Maildir the SMTP server writes each mail it accepts to, as one file under <c>new/</c>.</summary>
    public string? SmtpMaildir => _smtp?.Maildir;

    /// <summary>In start order: primary, replica, pgbouncer, redis, smtp (those the options asked for), then the balancer once started.</summary>
    public IReadOnlyList<StackComponent> Components => _components;

    public StackComponent Primary => Find(StackComponentKind.Primary) ?? throw NotStarted("a primary");

    public StackComponent? Replica => Find(StackComponentKind.Replica);

    public StackComponent? PgBouncer => Find(StackComponentKind.PgBouncer);

    public StackComponent? Redis => Find(StackComponentKind.Redis);

    public StackComponent? Smtp => Find(StackComponentKind.Smtp);

    /// <summary>The Prometheus server, when started with <see cref="StackOptions.WithPrometheus"/>.</summary>
    public StackComponent? Prometheus => Find(StackComponentKind.Prometheus);

    /// <summary><c>http://127.0.0.1:port</c> of the Prometheus server (its HTTP API), or null without one.</summary>
    public Uri? PrometheusUrl => _prometheus is { } prometheus ? new Uri($"http://127.0.0.1:{prometheus.Port}") : null;

    /// <summary>
    /// What the stack's Prometheus scrapes from now on (each base URL's <c>/metrics</c>, loopback only), replacing the list;
    /// it applies the change itself within a moment, with no restart. Throws without <see cref="StackOptions.WithPrometheus"/>.
    /// </summary>
    public void SetPrometheusTargets(IEnumerable<Uri> targets) =>
        (_prometheus ?? throw new InvalidOperationException("This stack has no Prometheus (StackOptions.WithPrometheus).")).SetTargets(targets);

    /// <summary>HAProxy in front of the nodes, once <see cref="StartBalancerAsync"/> started it.</summary>
    public StackComponent? Balancer => Find(StackComponentKind.Balancer);

    /// <summary><c>http://127.0.0.1:port</c> of the balancer, or null before <see cref="StartBalancerAsync"/>.</summary>
    public Uri? BalancerUrl => Balancer is { } balancer ? new Uri($"http://127.0.0.1:{balancer.Port}") : null;

    /// <summary>The balancer's runtime API (drain a node, read the nodes' states), or null before <see cref="StartBalancerAsync"/>.</summary>
    public BalancerRuntime? BalancerRuntime => _balancer is { } balancer ? new BalancerRuntime(balancer.SocketPath) : null;

    private IEnumerable<ComponentDriver> Drivers => new ComponentDriver?[] { _primary, _replica, _pgBouncer, _redis, _smtp, _prometheus, _balancer }.OfType<ComponentDriver>();

    /// <summary>
    /// Starts the components the options ask for and waits until each is ready. On failure stops what it started
    /// and throws (<see cref="StackStartException"/> with the component's log tail, <see cref="MissingBinaryException"/>, ...).
    /// When run as root, PostgreSQL and PgBouncer run as the <c>postgres</c> user with their data under /tmp.
    /// </summary>
    public static async Task<LocalStack> StartAsync(StackOptions options, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var runAsPostgres = Environment.IsPrivilegedProcess;
        var binaries = StackBinaries.Locate(options, runAsPostgres);
        var layout = StackLayout.Create(options.RootDirectory, runAsPostgres, options.Durable);
        if (!layout.DeleteRootOnStop)
            ClearStaleStack(layout);

        var stack = new LocalStack(options, layout, new StackEnvironment(binaries, runAsPostgres, options.ReadyTimeout, progress));
        try
        {
            await stack.StartComponentsAsync(ct).ConfigureAwait(false);
        }
        catch
        {
            await stack.StopAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return stack;
    }

    /// <summary>
    /// Starts HAProxy (Debian's <c>haproxy</c>) on 127.0.0.1:<paramref name="port"/> (0: a free one) in front of
    /// <paramref name="nodes"/>, as the stack's last component: it checks each node's <c>/health/ready</c> every second (two
    /// failures take a node out, two passes bring it back), keeps WebSockets as tunnels, answers 503 + Retry-After when no node
    /// can, and stops with the stack (the watchdog included). The nodes may start after it. One balancer per stack.
    /// </summary>
    public async Task<StackComponent> StartBalancerAsync(IReadOnlyList<BalancedNode> nodes, int port = 0, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        if (nodes.Count == 0 || nodes.Select(n => n.Name).Distinct(StringComparer.Ordinal).Count() != nodes.Count)
            throw new ArgumentException("The balancer needs at least one node, each with its own name.", nameof(nodes));
        if (port is < 0 or > 65535)
            throw new ArgumentOutOfRangeException(nameof(port), port, "A TCP port, or 0 for a free one.");
        // A port asked for is that port or a failure, as a server's own --urls would be; the other components may move.
        if (port > 0 && !LoopbackPorts.IsFree(port))
            throw new StackStartException("balancer", $"127.0.0.1:{port} is taken by another process", "") { Reason = $"127.0.0.1:{port} is taken by another process" };
        var driver = new HaproxyServer(_layout.DataDirectory, _env, StackBinaries.LocateHaproxy(), nodes);
        var component = new StackComponent(driver, WriteState);
        lock (_lock)
        {
            if (_balancer is not null || _stopTask is not null)
                throw new InvalidOperationException(_balancer is null ? "The stack is stopping." : "This stack already has a balancer.");
            _balancer = driver;
            _components = [.. _components, component];
        }
        RestartWatchdog();
        try
        {
            await component.CreateAsync(port == 0 ? null : port, ct).ConfigureAwait(false);
        }
        catch
        {
            await StopBalancerAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
        return component;
    }

    /// <summary>Stops the balancer and removes it from the stack (a later <see cref="StartBalancerAsync"/> may start another). No-op without one.</summary>
    public async Task StopBalancerAsync(CancellationToken ct = default)
    {
        if (Balancer is not { } component)
            return;
        await component.StopAsync(ct).ConfigureAwait(false);
        lock (_lock)
        {
            _balancer = null;
            _components = _components.Where(c => c != component).ToList();
        }
        RestartWatchdog();
        WriteState();
    }

    /// <summary>
    /// Stops the components in reverse order and the watchdog, and deletes the data unless the stack is durable
    /// (and the root when it was a temporary directory; otherwise stack.json). Idempotent; concurrent calls share one stop.
    /// </summary>
    public Task StopAsync(CancellationToken ct = default)
    {
        lock (_lock)
            _stopTask ??= StopCoreAsync();
        return _stopTask.WaitAsync(ct);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>A snapshot of the components and connection strings, as written to stack.json.</summary>
    public StackState Describe() => new(
        _layout.RootDirectory,
        _layout.DataDirectory,
        _layout.DeleteRootOnStop,
        _layout.KeepData,
        _env.RunAsPostgres,
        _ownerPid,
        _watchdogPid,
        _primary?.ConnectionString(_database),
        ReplicaConnectionString,
        PgBouncerConnectionString,
        RedisEndpoint,
        Components.Select(component => component.Describe()).ToList(),
        _synchronousReplica,
        _primary?.WalArchiveDirectory is not null,
        _redisMaxMemoryMegabytes);

    /// <summary>The state a stack started with this root wrote, or null when none runs (stack.json is removed on stop).</summary>
    public static StackState? ReadState(string rootDirectory)
    {
        var path = StackLayout.StateFileIn(Path.GetFullPath(rootDirectory));
        return File.Exists(path) ? JsonSerializer.Deserialize<StackState>(File.ReadAllText(path), StackState.JsonOptions) : null;
    }

    /// <summary>
    /// Stops the stack described by <c>&lt;root&gt;/stack.json</c>, e.g. from <c>parley down</c> in another process:
    /// the watchdog, then every component (SIGKILL if a clean stop does not finish), then its directories (a durable
    /// stack keeps its data). No-op without stack.json.
    /// </summary>
    public static async Task StopFromStateAsync(string rootDirectory, CancellationToken ct = default)
    {
        if (ReadState(rootDirectory) is not { } state)
            return;
        using var held = await StackOperationLock.AcquireAsync(state.RootDirectory, ct).ConfigureAwait(false);
        if (state.WatchdogPid is { } watchdog)
            Watchdog.Stop(watchdog);
        var stack = Reattach(state, progress: null);
        foreach (var driver in stack.Drivers.Reverse())
            await driver.StopAsync(ct).ConfigureAwait(false);
        stack._layout.Delete();
    }

    /// <summary>
    /// <see cref="FailoverAsync"/> on the stack described by <c>&lt;root&gt;/stack.json</c>, e.g. from <c>parley failover</c> while
    /// <c>parley up</c> runs in another process; stack.json (and a durable stack's roles and ports) then describe the swapped roles.
    /// </summary>
    public static Task<FailoverReport> FailoverFromStateAsync(string rootDirectory, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Reattach(RunningState(rootDirectory), progress).FailoverAsync(ct);

    /// <summary><see cref="BaseBackupAsync"/> on the stack described by <c>&lt;root&gt;/stack.json</c> (<c>parley pitr backup</c>).</summary>
    public static Task<string> BaseBackupFromStateAsync(string rootDirectory, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Reattach(RunningState(rootDirectory), progress).BaseBackupAsync(ct);

    /// <summary><see cref="PruneBaseBackupsAsync"/> on the stack described by <c>&lt;root&gt;/stack.json</c> (<c>parley pitr prune</c>).</summary>
    public static Task<ArchivePrune> PruneBaseBackupsFromStateAsync(string rootDirectory, int keep, IProgress<string>? progress = null, CancellationToken ct = default) =>
        Reattach(RunningState(rootDirectory), progress).PruneBaseBackupsAsync(keep, ct);

    /// <summary>
    /// <see cref="RecoverToAsync"/> on the stack described by <c>&lt;root&gt;/stack.json</c> (<c>parley pitr restore</c>), from
    /// <paramref name="baseBackup"/>, or when null the newest base backup that finished before <paramref name="target"/>; returns the one used.
    /// </summary>
    public static async Task<string> RecoverFromStateAsync(
        string rootDirectory, DateTimeOffset target, string? baseBackup = null, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var stack = Reattach(RunningState(rootDirectory), progress);
        var chosen = baseBackup ?? stack.NewestBaseBackupBefore(target)
            ?? throw new InvalidOperationException($"No base backup in {stack._layout.BaseBackupsDirectory} finished before {target:O}; take one with `parley pitr backup`.");
        await stack.RecoverToAsync(chosen, target, ct).ConfigureAwait(false);
        return chosen;
    }

    /// <summary>
    /// Keeps the newest <paramref name="keep"/> complete base backups and deletes the others, then the archived WAL segments older
    /// than the oldest kept backup's start (pg_archivecleanup; timeline history files stay): the archive grows by 16 MB a segment
    /// otherwise. Recovery to a moment before the oldest kept backup is no longer possible. Unfinished backups are left alone.
    /// </summary>
    public async Task<ArchivePrune> PruneBaseBackupsAsync(int keep, CancellationToken ct = default)
    {
        using var held = await StackOperationLock.AcquireAsync(_layout.RootDirectory, ct).ConfigureAwait(false);
        ArgumentOutOfRangeException.ThrowIfLessThan(keep, 1);
        if (_primary is null || _primary.WalArchiveDirectory is not { } archive)
            throw new InvalidOperationException("Pruning needs the WAL archive (StackOptions.WalArchive).");
        var complete = CompleteBaseBackups().ToList();
        if (complete.Count == 0)
            throw new InvalidOperationException($"No complete base backup in {_layout.BaseBackupsDirectory}: without one every archived segment may be needed; take one with `parley pitr backup`.");
        var (kept, removed) = (complete.Take(keep).ToList(), complete.Skip(keep).ToList());
        foreach (var backup in removed)
        {
            _env.Report($"prune: deleting base backup {backup}");
            Directory.Delete(backup, recursive: true);
        }
        var oldestKept = StartWalFile(kept[^1]);
        var before = ArchiveFiles(archive);
        _env.Report($"prune: archived WAL before {oldestKept}");
        await _env.RunAsPostgresCheckedAsync(_env.Binaries.PgArchiveCleanup, [archive, oldestKept], _layout.DataDirectory, StackEnvironment.CommandTimeout, ct)
            .ConfigureAwait(false);
        var after = ArchiveFiles(archive).Select(file => file.Name).ToHashSet();
        var gone = before.Where(file => !after.Contains(file.Name)).ToList();
        return new ArchivePrune(removed, kept, oldestKept, gone.Count, gone.Sum(file => file.Length));
    }

    private static List<FileInfo> ArchiveFiles(string archive) =>
        Directory.Exists(archive) ? new DirectoryInfo(archive).EnumerateFiles().ToList() : [];

    // The WAL file a base backup starts in, from its backup_label: "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)".
    private static string StartWalFile(string baseBackup) =>
        File.ReadLines(Path.Combine(baseBackup, "backup_label"))
            .Select(line => StartWalLine().Match(line))
            .FirstOrDefault(match => match.Success)?.Groups[1].Value
        ?? throw new InvalidDataException($"{baseBackup}/backup_label names no START WAL LOCATION file.");

    [System.Text.RegularExpressions.GeneratedRegex(@"^START WAL LOCATION: .*\(file ([0-9A-F]{24})\)")]
    private static partial System.Text.RegularExpressions.Regex StartWalLine();

    // Newest first. backup_label is written when pg_basebackup starts; a backup is complete once backup_manifest (written last) is there.
    private IEnumerable<string> CompleteBaseBackups() =>
        !Directory.Exists(_layout.BaseBackupsDirectory) ? []
        : Directory.EnumerateDirectories(_layout.BaseBackupsDirectory)
            .Select(directory => new FileInfo(Path.Combine(directory, "backup_manifest")))
            .Where(manifest => manifest.Exists)
            .OrderByDescending(manifest => manifest.LastWriteTimeUtc)
            .Select(manifest => manifest.DirectoryName!);

    // The newest complete base backup that finished before target.
    private string? NewestBaseBackupBefore(DateTimeOffset target) =>
        CompleteBaseBackups().FirstOrDefault(backup => File.GetLastWriteTimeUtc(Path.Combine(backup, "backup_manifest")) < target.UtcDateTime);

    private static StackState RunningState(string rootDirectory) =>
        ReadState(rootDirectory) ?? throw new InvalidOperationException($"No stack runs from {Path.GetFullPath(rootDirectory)} (no stack.json).");

    // The stack another process started, as its stack.json describes it: ports, directories (swapped by a failover), states and
    // pids; never launched by us, only stopped or failed over.
    private static LocalStack Reattach(StackState state, IProgress<string>? progress)
    {
        var kinds = state.Components.Select(component => component.Kind).ToHashSet();
        var options = new StackOptions
        {
            WithPrimary = kinds.Contains(StackComponentKind.Primary),
            WithReplica = kinds.Contains(StackComponentKind.Replica),
            WithPgBouncer = kinds.Contains(StackComponentKind.PgBouncer),
            WithRedis = kinds.Contains(StackComponentKind.Redis),
            WithSmtp = kinds.Contains(StackComponentKind.Smtp),
            WithPrometheus = kinds.Contains(StackComponentKind.Prometheus),
            SynchronousReplica = state.SynchronousReplica,
            WalArchive = state.WalArchive,
            // A component started again (the supervisor) runs as it did: Redis with its AOF and its maxmemory.
            Durable = state.KeepData,
            RedisMaxMemoryMegabytes = state.RedisMaxMemoryMegabytes,
            OwnerPid = state.OwnerPid,
            Database = state.PrimaryConnectionString is { } primary ? new NpgsqlConnectionStringBuilder(primary).Database ?? "parley" : "parley",
        };
        var layout = new StackLayout(state.RootDirectory, state.DeleteRootOnStop, state.DataDirectory, state.KeepData);
        var env = new StackEnvironment(StackBinaries.Locate(options, state.RunAsPostgres), state.RunAsPostgres, options.ReadyTimeout, progress);
        var stack = new LocalStack(options, layout, env) { _watchdogPid = state.WatchdogPid };
        if (kinds.Contains(StackComponentKind.Balancer))
        {
            stack._balancer = new HaproxyServer(layout.DataDirectory, env, "haproxy", nodes: []); // stopped by its pid file; never launched
            stack._components = [.. stack._components, new StackComponent(stack._balancer, stack.WriteState)];
        }
        foreach (var component in stack._components)
        {
            var info = state.Components.Single(c => c.Kind == component.Kind);
            var driver = stack.Drivers.Single(d => d.Kind == component.Kind);
            driver.Port = info.Port;
            driver.Directory = info.Directory;
            component.Restore(info);
        }
        return stack;
    }

    /// <summary>
    /// Losing the primary, rehearsed: the old primary is stopped (fast shutdown, which streams its last WAL to the replica first) unless
    /// it is dead already, the replica is promoted (pg_ctl promote), the two swap roles (the primary component is then the promoted
    /// server on its port and directory), PgBouncer is re-pointed (SIGHUP), and the old primary's data is cloned again from the new
    /// primary (pg_basebackup) and started as the replica on the old primary's port. With <see cref="StackOptions.SynchronousReplica"/>
    /// commits run asynchronous from the promotion until the new replica streams (nothing to wait for meanwhile), then synchronous.
    /// Clients on <see cref="FollowingPrimaryConnectionString"/> follow by themselves.
    /// </summary>
    public async Task<FailoverReport> FailoverAsync(CancellationToken ct = default)
    {
        using var held = await StackOperationLock.AcquireAsync(_layout.RootDirectory, ct).ConfigureAwait(false);
        if (_primary is null || _replica is null || Replica is not { } replica)
            throw new InvalidOperationException("A failover needs a primary and a replica.");
        if (replica.State != StackComponentState.Running)
            throw new InvalidOperationException("The replica is not running: there is nothing to promote.");
        var primary = Primary;
        var watch = Stopwatch.StartNew();
        var wasRunning = _primary.ReadPid() is { } pid && ProcessTree.IsAlive(pid);
        _env.Report(wasRunning ? "failover: stopping the primary" : "failover: the primary is down");
        // Never two primaries at once: the old one is down before the replica is promoted.
        await primary.StopAsync(ct).ConfigureAwait(false);
        _env.Report($"failover: promoting the replica on port {replica.Port}");
        await replica.ChangeAsync((driver, token) => ((PostgresReplica)driver).PromoteAsync(token), StackComponentState.Running, ct).ConfigureAwait(false);
        var promoted = watch.Elapsed;
        PostgresServer.SwapRoles(_primary, _replica);
        await primary.ChangeAsync((_, _) => Task.CompletedTask, StackComponentState.Running, ct).ConfigureAwait(false);
        await replica.ChangeAsync((_, _) => Task.CompletedTask, StackComponentState.Stopped, ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(_layout.PrimaryRoleFile, Path.GetFileName(_primary.Directory) + "\n", ct).ConfigureAwait(false);
        if (_layout.KeepData)
            await WritePortsAsync(ct).ConfigureAwait(false);
        if (_synchronousReplica)
            await _primary.SetSynchronousStandbyAsync(false, ct).ConfigureAwait(false);
        _pgBouncer?.FollowPrimary();
        _env.Report($"failover: the primary is now on port {primary.Port}; re-seeding the replica on port {replica.Port}");
        await ReseedReplicaAsync(replica, ct).ConfigureAwait(false);
        _env.Report($"failover: done in {watch.Elapsed.TotalSeconds:0.0} s");
        return new FailoverReport(wasRunning, primary.Port, replica.Port, promoted, watch.Elapsed);
    }

    /// <summary>
    /// A base backup of the primary for <see cref="RecoverToAsync"/> (pg_basebackup, plain format, its WAL streamed alongside) in a new
    /// directory under <c>&lt;data&gt;/base-backups</c>, whose path it returns. Needs <see cref="StackOptions.WalArchive"/>: a base
    /// backup is the starting point, the archived WAL after it the way to any later moment.
    /// </summary>
    public async Task<string> BaseBackupAsync(CancellationToken ct = default)
    {
        using var held = await StackOperationLock.AcquireAsync(_layout.RootDirectory, ct).ConfigureAwait(false);
        if (_primary is null || _primary.WalArchiveDirectory is null)
            throw new InvalidOperationException("A base backup for point-in-time recovery needs the WAL archive (StackOptions.WalArchive).");
        var target = Path.Combine(_layout.BaseBackupsDirectory, DateTime.UtcNow.ToString("yyyyMMdd-HHmmssfff", System.Globalization.CultureInfo.InvariantCulture));
        _env.Report($"base backup into {target}");
        await _env.RunAsPostgresCheckedAsync(
            _env.Binaries.PgBaseBackup,
            ["-h", "127.0.0.1", "-p", _primary.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", PostgresServer.User,
             "-D", target, "-X", "stream", "--checkpoint=fast"],
            _layout.DataDirectory,
            StackEnvironment.CommandTimeout,
            ct).ConfigureAwait(false);
        return target;
    }

    /// <summary>
    /// Point-in-time recovery: the replica stopped, the primary's data replaced by <paramref name="baseBackup"/> (from
    /// <see cref="BaseBackupAsync"/>) and the archived WAL replayed up to <paramref name="target"/> (every commit at or before it, none
    /// after), the primary promoted on a new timeline on its port, then the replica cloned again from it. What was written after
    /// <paramref name="target"/> is gone from both servers; the base backup must be older than <paramref name="target"/>, and WAL past
    /// it must be archived (a recovery that runs out of WAL before the target fails and leaves the primary stopped).
    /// </summary>
    public async Task RecoverToAsync(string baseBackup, DateTimeOffset target, CancellationToken ct = default)
    {
        using var held = await StackOperationLock.AcquireAsync(_layout.RootDirectory, ct).ConfigureAwait(false);
        if (_primary is null || _primary.WalArchiveDirectory is null)
            throw new InvalidOperationException("Point-in-time recovery needs the WAL archive (StackOptions.WalArchive).");
        if (!File.Exists(Path.Combine(baseBackup, "backup_label")))
            throw new ArgumentException($"{baseBackup} is not a base backup (no backup_label).", nameof(baseBackup));
        var primary = Primary;
        if (Replica is { } stoppedReplica)
            await stoppedReplica.StopAsync(ct).ConfigureAwait(false);
        await primary.StopAsync(ct).ConfigureAwait(false);
        _env.Report($"recovery: {baseBackup} and the archived WAL up to {target:O}");
        var recovering = _primary;
        await primary.ChangeAsync(
            async (driver, token) =>
            {
                await recovering.PrepareRecoveryAsync(baseBackup, target, token).ConfigureAwait(false);
                await driver.StartAsync(token).ConfigureAwait(false);
                await recovering.FinishRecoveryAsync(token).ConfigureAwait(false);
                await recovering.SetSynchronousStandbyAsync(false, token).ConfigureAwait(false);
            },
            StackComponentState.Running,
            ct).ConfigureAwait(false);
        if (Replica is { } replica)
        {
            _env.Report("recovery: re-seeding the replica from the recovered primary");
            await ReseedReplicaAsync(replica, ct).ConfigureAwait(false);
        }
        _env.Report("recovery: done");
    }

    // The replica's data cloned again from the primary (after a failover or a recovery: another timeline), then commits wait for it
    // again when the stack is synchronous; until then they could not.
    private async Task ReseedReplicaAsync(StackComponent replica, CancellationToken ct)
    {
        await replica.ChangeAsync(
            async (driver, token) =>
            {
                await driver.PrepareFreshAsync(token).ConfigureAwait(false);
                await driver.StartAsync(token).ConfigureAwait(false);
            },
            StackComponentState.Running,
            ct).ConfigureAwait(false);
        if (_synchronousReplica)
            await _primary!.SetSynchronousStandbyAsync(true, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// Turns synchronous replication (<see cref="StackOptions.SynchronousReplica"/>) on or off on the running primary (ALTER SYSTEM +
    /// reload, no restart), for what follows too: a later failover keeps it. For measuring both ways in one run, or one scenario.
    /// </summary>
    public async Task SetSynchronousReplicaAsync(bool synchronous, CancellationToken ct = default)
    {
        if (_primary is null || _replica is null)
            throw new InvalidOperationException("Synchronous replication needs a primary and a replica.");
        await _primary.SetSynchronousStandbyAsync(synchronous, ct).ConfigureAwait(false);
        _synchronousReplica = synchronous;
        WriteState();
    }

    /// <summary>True when commits on the primary wait for the replica's flush (its synchronous_standby_names is set).</summary>
    public Task<bool> IsSynchronousAsync(CancellationToken ct = default) => (_primary ?? throw NotStarted("a primary")).IsSynchronousAsync(ct);

    /// <summary>
    /// Deletes the data a durable stack (<see cref="StackOptions.Durable"/>) with this root keeps, and returns where it was,
    /// or null when there was none. Throws <see cref="InvalidOperationException"/> while a stack from this root runs.
    /// </summary>
    public static string? DeleteDurableData(string rootDirectory)
    {
        var layout = StackLayout.Create(rootDirectory, Environment.IsPrivilegedProcess, durable: true);
        ClearStaleStack(layout);
        if (!Directory.Exists(layout.DataDirectory))
            return null;
        layout.DeleteData();
        return layout.DataDirectory;
    }

    private static void ClearStaleStack(StackLayout layout)
    {
        if (ReadState(layout.RootDirectory) is { } previous
            && (previous.Components.Any(component => component.Pid is { } pid && ProcessTree.IsAlive(pid))
                || previous.WatchdogPid is { } watchdog && ProcessTree.IsAlive(watchdog)))
        {
            throw new InvalidOperationException(
                $"A stack from {layout.RootDirectory} is still running (see {layout.StateFile}); stop it first with `parley down` (LocalStack.StopFromStateAsync).");
        }
        layout.Delete();
    }

    private async Task StartComponentsAsync(CancellationToken ct)
    {
        await _env.CreateDirectoryForPostgresAsync(_layout.DataDirectory, ct).ConfigureAwait(false);
        if (_primary?.WalArchiveDirectory is { } archive)
        {
            await _env.CreateDirectoryForPostgresAsync(archive, ct).ConfigureAwait(false);
            await _env.CreateDirectoryForPostgresAsync(_layout.BaseBackupsDirectory, ct).ConfigureAwait(false);
        }
        StartWatchdog();
        if (_ownerPid == Environment.ProcessId)
        {
            AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
            Console.CancelKeyPress += OnCancelKeyPress;
        }
        WriteState();
        var previousPorts = ReadPorts();
        foreach (var component in Components)
            await component.CreateAsync(previousPorts.TryGetValue(component.Name, out var port) ? port : null, ct).ConfigureAwait(false);
        if (_primary is not null && _replica is not null)
            await _primary.SetSynchronousStandbyAsync(_synchronousReplica, ct).ConfigureAwait(false);
        if (_layout.KeepData)
            await WritePortsAsync(ct).ConfigureAwait(false);
        _env.Report($"stack ready; state in {_layout.StateFile}");
        if (_supervise)
            StartSupervision();
    }

    private void StartWatchdog()
    {
        _watchdogPid = Watchdog.Start(
            _env.Binaries, _ownerPid, Drivers.Reverse().Select(driver => driver.ShellStopCommand), _layout.ShellCleanup());
        _env.Report($"watchdog: pid {_watchdogPid} stops the stack when process {_ownerPid} exits");
    }

    // The watchdog's script lists the components to stop; a balancer started or stopped later needs a new one.
    private void RestartWatchdog()
    {
        if (_stopTask is not null)
            return;
        if (_watchdogPid is { } old)
            Watchdog.Stop(old);
        StartWatchdog();
        WriteState();
    }

    private Task WritePortsAsync(CancellationToken ct) =>
        File.WriteAllTextAsync(_layout.PortsFile, JsonSerializer.Serialize(Components.ToDictionary(c => c.Name, c => c.Port)), ct);

    private Dictionary<string, int> ReadPorts()
    {
        try
        {
            return _layout.KeepData && File.Exists(_layout.PortsFile)
                ? JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(_layout.PortsFile)) ?? []
                : [];
        }
        catch (JsonException)
        {
            // Cut short by a crash: any free ports will do.
            return [];
        }
    }

    private async Task StopCoreAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        Console.CancelKeyPress -= OnCancelKeyPress;
        var failures = new List<Exception>();
        try
        {
            await StopSupervisionAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            failures.Add(e); // the components are stopped all the same
        }
        if (_watchdogPid is { } watchdog)
            Watchdog.Stop(watchdog);
        foreach (var component in Components.Reverse())
        {
            try
            {
                await component.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception e) when (e is InvalidOperationException or IOException or TimeoutException)
            {
                failures.Add(e);
            }
        }
        _layout.Delete();
        if (_primaryDataElsewhere is { } elsewhere && !_layout.KeepData)
        {
            if (Directory.Exists(elsewhere))
                Directory.Delete(elsewhere, recursive: true);
            File.Delete(elsewhere + ".prepared");
        }
        _env.Report("stack stopped");
        if (failures.Count > 0)
            throw new AggregateException("Some stack components did not stop cleanly; they were killed.", failures);
    }

    private void WriteState()
    {
        lock (_lock)
        {
            if (_stopTask is not null)
                return;
            var temporary = _layout.StateFile + ".tmp";
            File.WriteAllText(temporary, JsonSerializer.Serialize(Describe(), StackState.JsonOptions));
            File.Move(temporary, _layout.StateFile, overwrite: true);
        }
    }

    // Environment.Exit and a normal return raise ProcessExit; SIGTERM and SIGKILL do not, and are left to the watchdog.
    private void OnProcessExit(object? sender, EventArgs e) => StopBeforeExit();

    // Ctrl+C ends the process unless a handler registered before ours cancels it; stop cleanly before that happens.
    private void OnCancelKeyPress(object? sender, ConsoleCancelEventArgs e)
    {
        if (!e.Cancel)
            StopBeforeExit();
    }

    private void StopBeforeExit()
    {
        try
        {
            StopAsync().Wait(ExitStopTimeout);
        }
        catch (AggregateException)
        {
            // The process is exiting; components that did not stop cleanly were killed, which is all we can do.
        }
    }

    private StackComponent? Find(StackComponentKind kind) => Components.FirstOrDefault(component => component.Kind == kind);

    private static InvalidOperationException NotStarted(string what) => new($"This stack was started without {what}.");
}
