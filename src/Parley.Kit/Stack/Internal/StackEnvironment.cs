namespace Parley.Kit.Stack.Internal;

/// <summary>What every component needs: binaries, whether to switch to the postgres user, timeouts, progress.</summary>
internal sealed class StackEnvironment(StackBinaries binaries, bool runAsPostgres, TimeSpan readyTimeout, IProgress<string>? progress)
{
    /// <summary>Bound for commands that should take seconds (initdb, pg_basebackup, chown, pg_ctl stop).</summary>
    public static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    /// <summary>Bound for a clean stop before falling back to SIGKILL.</summary>
    public static readonly TimeSpan StopTimeout = TimeSpan.FromSeconds(15);

    public StackBinaries Binaries => binaries;

    public bool RunAsPostgres => runAsPostgres;

    public TimeSpan ReadyTimeout => readyTimeout;

    public IProgress<string>? Progress => progress;

    public void Report(string message) => progress?.Report(message);

    /// <summary>Runs a PostgreSQL or PgBouncer program, as the postgres user when we are root.</summary>
    public Task<ProcessResult> RunAsPostgresAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var (command, commandArgs) = AsPostgres(file, args);
        return ProcessRunner.RunAsync(command, commandArgs, workingDirectory, timeout, ct);
    }

    /// <summary>Like <see cref="RunAsPostgresAsync"/>; throws with the output when the program fails.</summary>
    public Task RunAsPostgresCheckedAsync(string file, IEnumerable<string> args, string workingDirectory, TimeSpan timeout, CancellationToken ct)
    {
        var (command, commandArgs) = AsPostgres(file, args);
        return ProcessRunner.RunCheckedAsync(command, commandArgs, workingDirectory, timeout, ct);
    }

    /// <summary>The shell prefix that does what <see cref="RunAsPostgresAsync"/> does, for the watchdog script.</summary>
    public string ShellAsPostgres => runAsPostgres ? $"{Shell.Quote(binaries.RunUser!)} -u postgres -- " : "";

    /// <summary>Creates <paramref name="directory"/> and, when we are root, hands it to the postgres user.</summary>
    public async Task CreateDirectoryForPostgresAsync(string directory, CancellationToken ct)
    {
        Directory.CreateDirectory(directory);
        if (runAsPostgres)
            await ProcessRunner.RunCheckedAsync("chown", ["-R", "postgres:postgres", directory], "/", CommandTimeout, ct).ConfigureAwait(false);
    }

    private (string File, IEnumerable<string> Args) AsPostgres(string file, IEnumerable<string> args) =>
        runAsPostgres ? (binaries.RunUser!, new[] { "-u", "postgres", "--", file }.Concat(args)) : (file, args);
}
