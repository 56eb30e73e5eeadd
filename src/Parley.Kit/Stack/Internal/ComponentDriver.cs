namespace Parley.Kit.Stack.Internal;

/// <summary>
/// How to prepare, start, probe and stop one kind of server. Each server runs detached (a daemon),
/// records its pid in a pid file and logs to <c>&lt;data&gt;/&lt;name&gt;.log</c>.
/// </summary>
internal abstract class ComponentDriver(StackComponentKind kind, string dataDirectory, StackEnvironment env)
{
    private const int PortAttempts = 3;
    private const string PortClash = "Address already in use";
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    public StackComponentKind Kind => kind;

    public string Name { get; } = NameOf(kind);

    /// <summary>
    /// The server's own directory: PostgreSQL's data directory, or where PgBouncer and Redis keep their files. <c>&lt;data&gt;/&lt;name&gt;</c>
    /// until a failover swaps the primary's and the replica's (<see cref="PostgresServer.SwapRoles"/>).
    /// </summary>
    public string Directory { get; set; } = Path.Combine(dataDirectory, NameOf(kind));

    /// <summary>Picked on first start; kept across restarts; restored from stack.json when stopping from another process.</summary>
    public int Port { get; set; }

    protected StackEnvironment Env => env;

    protected string DataDirectory => dataDirectory;

    public string LogFile => Path.Combine(dataDirectory, Name + ".log");

    protected abstract string PidFile { get; }

    /// <summary>A POSIX shell command that stops the server, for the watchdog. May use its <c>stop_pid FILE</c> function.</summary>
    public virtual string ShellStopCommand => $"stop_pid {Shell.Quote(PidFile)}";

    public int? ReadPid()
    {
        try
        {
            var firstLine = File.ReadLines(PidFile).FirstOrDefault();
            return int.TryParse(firstLine, out var pid) && pid > 0 ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// First start of this stack: creates the data unless a finished earlier preparation left it (a durable stack),
    /// picks a port (the preferred one while it is free, another on a clash) and waits until ready. A component that
    /// <see cref="CanReseed"/> and does not start on data it reused gets fresh data and one more try.
    /// </summary>
    public async Task CreateAsync(int? preferredPort, CancellationToken ct)
    {
        var reused = File.Exists(PreparedMarker) && System.IO.Directory.Exists(Directory) && DataIsUsable;
        if (reused)
            Env.Report($"{Name}: reusing {Directory}");
        else
            await PrepareFreshAsync(ct).ConfigureAwait(false);
        try
        {
            await StartOnFreePortAsync(preferredPort, ct).ConfigureAwait(false);
        }
        catch (StackStartException e) when (reused && CanReseed)
        {
            Env.Report($"{Name}: cannot run on its old data ({e.Reason}); re-seeding it");
            await KillAsync(ct).ConfigureAwait(false);
            await PrepareFreshAsync(ct).ConfigureAwait(false);
            await StartOnFreePortAsync(preferredPort, ct).ConfigureAwait(false);
        }
        await AfterCreateAsync(ct).ConfigureAwait(false);
    }

    private async Task StartOnFreePortAsync(int? preferredPort, CancellationToken ct)
    {
        for (var attempt = 1; ; attempt++)
        {
            Port = attempt == 1 && preferredPort is { } port && LoopbackPorts.IsFree(port) ? port : LoopbackPorts.Pick();
            try
            {
                await StartCoreAsync(portClashIsRetryable: true, ct).ConfigureAwait(false);
                return;
            }
            catch (PortInUseException) when (attempt < PortAttempts)
            {
                Env.Report($"{Name}: port {Port} was taken meanwhile; trying another");
            }
        }
    }

    // Written once PrepareAsync finished, beside (not in) the directory: pg_basebackup would copy a marker inside the primary's.
    private string PreparedMarker => Directory + ".prepared";

    /// <summary>Deletes the server's data and prepares it again (a replica: cloned again from the primary). The server must be stopped.</summary>
    public async Task PrepareFreshAsync(CancellationToken ct)
    {
        File.Delete(PreparedMarker);
        if (System.IO.Directory.Exists(Directory))
            System.IO.Directory.Delete(Directory, recursive: true);
        Env.Report($"{Name}: preparing {Directory}");
        await PrepareAsync(ct).ConfigureAwait(false);
        await File.WriteAllTextAsync(PreparedMarker, $"{DateTimeOffset.UtcNow:O}\n", ct).ConfigureAwait(false);
    }

    /// <summary>Starts the server on <see cref="Port"/> with its existing data and waits (bounded) until it is ready.</summary>
    public Task StartAsync(CancellationToken ct) => StartCoreAsync(portClashIsRetryable: false, ct);

    private async Task StartCoreAsync(bool portClashIsRetryable, CancellationToken ct)
    {
        var logStart = LogLength();
        Env.Report($"{Name}: starting on 127.0.0.1:{Port}");
        try
        {
            await LaunchAsync(ct).ConfigureAwait(false);
        }
        catch (InvalidOperationException e)
        {
            throw Failure("did not start", logStart, portClashIsRetryable, e);
        }
        var deadline = DateTime.UtcNow + Env.ReadyTimeout;
        while (!await ProbeAsync(ct).ConfigureAwait(false))
        {
            if (ReadPid() is { } pid && !ProcessTree.IsAlive(pid))
                throw Failure($"exited during start (pid {pid})", logStart, portClashIsRetryable);
            var log = LogSince(logStart);
            if (HopelessLogLine is { } hopeless && log.Contains(hopeless, StringComparison.Ordinal))
                throw Failure($"cannot get ready: its log says \"{hopeless}\"", logStart, portClashIsRetryable);
            if (log.Contains(PortClash, StringComparison.Ordinal) || DateTime.UtcNow >= deadline)
                throw Failure($"not ready within {Env.ReadyTimeout.TotalSeconds:0}s", logStart, portClashIsRetryable);
            await Task.Delay(PollInterval, ct).ConfigureAwait(false);
        }
        Env.Report($"{Name}: ready on 127.0.0.1:{Port} (pid {ReadPid()})");
    }

    /// <summary>Stops the server cleanly; SIGKILLs it and its children when that takes longer than <see cref="StackEnvironment.StopTimeout"/>.</summary>
    public virtual async Task StopAsync(CancellationToken ct)
    {
        if (ReadPid() is not { } pid || !ProcessTree.IsAlive(pid))
            return;
        Env.Report($"{Name}: stopping (pid {pid})");
        ProcessTree.Terminate(pid);
        if (!await ProcessTree.WaitUntilDeadAsync([pid], StackEnvironment.StopTimeout, ct).ConfigureAwait(false))
            await ProcessTree.KillTreeAsync(pid, StackEnvironment.StopTimeout, ct).ConfigureAwait(false);
    }

    /// <summary>SIGKILLs the server and its children, as a crash would, and waits until they are gone.</summary>
    public async Task KillAsync(CancellationToken ct)
    {
        if (ReadPid() is not { } pid || !ProcessTree.IsAlive(pid))
            return;
        Env.Report($"{Name}: killing (pid {pid})");
        await ProcessTree.KillTreeAsync(pid, StackEnvironment.StopTimeout, ct).ConfigureAwait(false);
    }

    /// <summary>Creates the server's data and configuration before its first start.</summary>
    protected abstract Task PrepareAsync(CancellationToken ct);

    /// <summary>Launches the daemon; throws <see cref="InvalidOperationException"/> when the launcher reports failure.</summary>
    protected abstract Task LaunchAsync(CancellationToken ct);

    /// <summary>True once the server answers as it should; false (not an exception) while it does not yet.</summary>
    protected abstract Task<bool> ProbeAsync(CancellationToken ct);

    /// <summary>Work after the stack's first start of this component (idempotent: durable data may have had it done before).</summary>
    protected virtual Task AfterCreateAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>False when the data left behind cannot serve this role (a replica's without standby.signal: a failover cut short).</summary>
    protected virtual bool DataIsUsable => true;

    /// <summary>True when fresh data is a safe answer to a start that fails on reused data (a replica: the primary has it all).</summary>
    protected virtual bool CanReseed => false;

    /// <summary>A log text that means waiting longer will not help (e.g. the WAL a replica needs is gone).</summary>
    protected virtual string? HopelessLogLine => null;

    /// <summary>The server's process name in /proc/&lt;pid&gt;/comm, to tell its pid file from one whose pid now belongs to another program.</summary>
    protected abstract string ProcessName { get; }

    /// <summary>
    /// Removes a pid file left by a killed server (its pid gone, or reused by another program), so it neither blocks the start
    /// nor makes a failed launch look like the old process.
    /// </summary>
    protected void DeleteStalePidFile()
    {
        if (ReadPid() is not { } pid || !ProcessTree.IsAliveAs(pid, ProcessName))
            File.Delete(PidFile);
    }

    /// <summary>
    /// Launches a program that has no daemon mode: a shell in its own session (so it outlives us) writes its pid to
    /// <see cref="PidFile"/> and execs the program, which logs to <see cref="LogFile"/>.
    /// </summary>
    protected void LaunchInOwnSession(string program, IEnumerable<string> arguments)
    {
        var command = string.Join(' ', [
            "echo $$ >", Shell.Quote(PidFile), "; exec", Shell.Quote(program), .. arguments.Select(Shell.Quote),
            ">>", Shell.Quote(LogFile), "2>&1 </dev/null"]);
        var info = new System.Diagnostics.ProcessStartInfo(Env.Binaries.SetSid)
        {
            ArgumentList = { "sh", "-c", command },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Directory,
        };
        using var process = System.Diagnostics.Process.Start(info) ?? throw new InvalidOperationException($"Could not start {program}.");
    }

    /// <summary>Writes a configuration file the server (possibly running as postgres) can read.</summary>
    protected static void WriteConfig(string path, string contents)
    {
        File.WriteAllText(path, contents);
        if (!OperatingSystem.IsWindows()) // The stack runs on Linux only; this tells the platform analyzer.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
    }

    private Exception Failure(string reason, long logStart, bool portClashIsRetryable, Exception? inner = null)
    {
        var log = LogSince(logStart);
        var portClash = log.Contains(PortClash, StringComparison.Ordinal) || inner?.Message.Contains(PortClash, StringComparison.Ordinal) == true;
        if (portClash && portClashIsRetryable)
            return new PortInUseException();
        if (portClash)
            reason = $"127.0.0.1:{Port} is taken by another process";
        var tail = string.Join(Environment.NewLine, log.Split('\n').TakeLast(30));
        return new StackStartException(Name, inner is null ? reason : $"{reason}: {inner.Message}", tail, inner) { Reason = reason };
    }

    private long LogLength() => File.Exists(LogFile) ? new FileInfo(LogFile).Length : 0;

    private string LogSince(long offset)
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            return new StreamReader(stream).ReadToEnd();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "";
        }
    }

    private static string NameOf(StackComponentKind kind) => kind switch
    {
        StackComponentKind.Primary => "primary",
        StackComponentKind.Replica => "replica",
        StackComponentKind.PgBouncer => "pgbouncer",
        StackComponentKind.Smtp => "smtp",
        StackComponentKind.Balancer => "balancer",
        StackComponentKind.Prometheus => "prometheus",
        _ => "redis",
    };

    private sealed class PortInUseException : Exception;
}
