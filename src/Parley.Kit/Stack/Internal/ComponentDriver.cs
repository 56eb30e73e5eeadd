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

    public string Name { get; } = kind switch
    {
        StackComponentKind.Primary => "primary",
        StackComponentKind.Replica => "replica",
        StackComponentKind.PgBouncer => "pgbouncer",
        _ => "redis",
    };

    /// <summary>The server's own directory: PostgreSQL's data directory, or where PgBouncer and Redis keep their files.</summary>
    public string Directory => Path.Combine(dataDirectory, Name);

    /// <summary>Picked on first start; kept across restarts; restored from stack.json when stopping from another process.</summary>
    public int Port { get; set; }

    protected StackEnvironment Env => env;

    protected string DataDirectory => dataDirectory;

    protected string LogFile => Path.Combine(dataDirectory, Name + ".log");

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

    /// <summary>First start: creates the data, picks a free port (another on a clash) and waits until ready.</summary>
    public async Task CreateAsync(CancellationToken ct)
    {
        Env.Report($"{Name}: preparing {Directory}");
        await PrepareAsync(ct).ConfigureAwait(false);
        for (var attempt = 1; ; attempt++)
        {
            Port = LoopbackPorts.Pick();
            try
            {
                await StartCoreAsync(portClashIsRetryable: true, ct).ConfigureAwait(false);
                break;
            }
            catch (PortInUseException) when (attempt < PortAttempts)
            {
                Env.Report($"{Name}: port {Port} was taken meanwhile; trying another");
            }
        }
        await AfterCreateAsync(ct).ConfigureAwait(false);
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
            if (LogSince(logStart).Contains(PortClash, StringComparison.Ordinal) || DateTime.UtcNow >= deadline)
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

    /// <summary>One-time work after the first successful start.</summary>
    protected virtual Task AfterCreateAsync(CancellationToken ct) => Task.CompletedTask;

    /// <summary>Removes a pid file left by a killed server, so a failed launch is not mistaken for the old process.</summary>
    protected void DeleteStalePidFile()
    {
        if (ReadPid() is not { } pid || !ProcessTree.IsAlive(pid))
            File.Delete(PidFile);
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
        return new StackStartException(Name, inner is null ? reason : $"{reason}: {inner.Message}", tail, inner);
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

    private sealed class PortInUseException : Exception;
}
