namespace Parley.Kit.Stack.Internal;

/// <summary>Absolute paths of the programs a stack needs; null for the ones its options leave out.</summary>
internal sealed record StackBinaries(string? PostgresBin, string? PgBouncer, string? RedisServer, string? RunUser, string SetSid, string? Python = null)
{
    private const string PostgresInstall = "apt-get install -y postgresql-15";
    private const string SystemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /// <summary>
    /// Finds what <paramref name="options"/> needs on <paramref name="searchPath"/> (default: PATH plus the sbin
    /// directories, where Debian puts pgbouncer and runuser) and, for PostgreSQL,
    /// also under <paramref name="postgresRoots"/> (default: /usr/lib/postgresql/&lt;version&gt;/bin, newest first);
    /// for SMTP, <paramref name="debianPython"/> with Debian's aiosmtpd module.
    /// Throws <see cref="MissingBinaryException"/> naming the package to install.
    /// </summary>
    public static StackBinaries Locate(
        StackOptions options, bool runAsPostgres, string? searchPath = null, string postgresRoots = "/usr/lib/postgresql", string debianPython = "/usr/bin/python3")
    {
        var path = (searchPath ?? $"{Environment.GetEnvironmentVariable("PATH")}:{SystemPath}").Split(':', StringSplitOptions.RemoveEmptyEntries);
        return new StackBinaries(
            options.WithPrimary ? FindPostgresBin(path, postgresRoots) : null,
            options.WithPgBouncer ? Require("pgbouncer", path, "apt-get install -y pgbouncer") : null,
            options.WithRedis ? Require("redis-server", path, "apt-get install -y redis-server") : null,
            runAsPostgres ? Require("runuser", path, "apt-get install -y util-linux") : null,
            Require("setsid", path, "apt-get install -y util-linux"),
            options.WithSmtp ? FindAiosmtpdPython(debianPython) : null);
    }

    // Debian's python3-aiosmtpd is a module of the system python (/usr/bin/python3), which a python earlier on PATH
    // (pyenv, a venv) does not see.
    private static string FindAiosmtpdPython(string debianPython) =>
        File.Exists(debianPython) && Directory.Exists(Path.Combine(AiosmtpdModuleRoot, "aiosmtpd"))
            ? debianPython
            : throw new MissingBinaryException("aiosmtpd (python3 -m aiosmtpd)", "apt-get install -y python3-aiosmtpd");

    private const string AiosmtpdModuleRoot = "/usr/lib/python3/dist-packages";

    public string PgCtl => Path.Combine(PostgresBin!, "pg_ctl");

    public string InitDb => Path.Combine(PostgresBin!, "initdb");

    public string PgBaseBackup => Path.Combine(PostgresBin!, "pg_basebackup");

    public string PgDump => Path.Combine(PostgresBin!, "pg_dump");

    public string PgArchiveCleanup => Path.Combine(PostgresBin!, "pg_archivecleanup");

    public string PgRestore => Path.Combine(PostgresBin!, "pg_restore");

    private static string FindPostgresBin(string[] path, string postgresRoots)
    {
        var versioned = Directory.Exists(postgresRoots)
            ? Directory.EnumerateDirectories(postgresRoots)
                .OrderByDescending(dir => int.TryParse(Path.GetFileName(dir), out var version) ? version : 0)
                .Select(dir => Path.Combine(dir, "bin"))
            : [];
        return path.Concat(versioned).FirstOrDefault(HasPostgresServer)
            ?? throw new MissingBinaryException("PostgreSQL server (initdb, pg_ctl, pg_basebackup, postgres)", PostgresInstall);

        static bool HasPostgresServer(string dir) =>
            new[] { "initdb", "pg_ctl", "pg_basebackup", "postgres" }.All(name => File.Exists(Path.Combine(dir, name)));
    }

    /// <summary>Debian's haproxy (in /usr/sbin), for <see cref="LocalStack.StartBalancerAsync"/>.</summary>
    public static string LocateHaproxy(string? searchPath = null) => LocateOnPath("haproxy", searchPath);

    /// <summary>Debian's prometheus (the server), for <see cref="StackOptions.WithPrometheus"/>.</summary>
    public static string LocatePrometheus(string? searchPath = null) => LocateOnPath("prometheus", searchPath);

    private static string LocateOnPath(string package, string? searchPath) =>
        Require(package, (searchPath ?? $"{Environment.GetEnvironmentVariable("PATH")}:{SystemPath}").Split(':', StringSplitOptions.RemoveEmptyEntries), $"apt-get install -y {package}");

    private static string Require(string name, string[] path, string install) =>
        path.Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists)
            ?? throw new MissingBinaryException(name, install);
}
