namespace Parley.Cli.Local;

/// <summary>
/// The directory a local Parley keeps its state in: <c>stack.json</c> (written by the stack launcher),
/// <c>parley.json</c> (the signing key), <c>server.json</c> and <c>up.pid</c> (the running <c>up</c>), <c>up.log</c>,
/// <c>observers.json</c> and <c>observer-N.log</c> (the observers of <c>up --observer</c>).
/// </summary>
public sealed class ParleyHome
{
    /// <summary>Overrides the default root, like <c>--root</c>.</summary>
    public const string HomeVariable = "PARLEY_HOME";

    /// <summary>Set by the <c>./parley</c> wrapper: the checkout whose <c>.parley</c> is the default root.</summary>
    public const string RepoVariable = "PARLEY_REPO";

    public ParleyHome(string root) => Root = Path.GetFullPath(root);

    public string Root { get; }

    public string SettingsFile => Path.Combine(Root, "parley.json");

    public string ServerFile => Path.Combine(Root, "server.json");

    public string UpPidFile => Path.Combine(Root, "up.pid");

    public string UpLogFile => Path.Combine(Root, "up.log");

    /// <summary>The exit code of a detached <c>up</c>, so the launching process can return it.</summary>
    public string UpExitFile => Path.Combine(Root, "up.exit");

    /// <summary><c>--root</c>, else <c>$PARLEY_HOME</c>, else <c>$PARLEY_REPO/.parley</c>, else the nearest directory up with Parley.slnx, else the current one.</summary>
    public static ParleyHome Resolve(string? root)
    {
        if (!string.IsNullOrWhiteSpace(root))
            return new ParleyHome(root);
        if (Environment.GetEnvironmentVariable(HomeVariable) is { Length: > 0 } home)
            return new ParleyHome(home);
        if (Environment.GetEnvironmentVariable(RepoVariable) is { Length: > 0 } repo)
            return new ParleyHome(Path.Combine(repo, ".parley"));
        var cwd = Directory.GetCurrentDirectory();
        for (var dir = new DirectoryInfo(cwd); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Parley.slnx")))
                return new ParleyHome(Path.Combine(dir.FullName, ".parley"));
        }
        return new ParleyHome(Path.Combine(cwd, ".parley"));
    }

    public void Create() => Directory.CreateDirectory(Root);

    public int? ReadUpPid() =>
        File.Exists(UpPidFile) && int.TryParse(File.ReadAllText(UpPidFile).Trim(), out var pid) ? pid : null;

    public void WriteUpPid(int pid) => File.WriteAllText(UpPidFile, $"{pid}\n");

    /// <summary>Removes what a stopped <c>up</c> leaves behind (not the log, not the signing key).</summary>
    public void ClearServerFiles()
    {
        File.Delete(UpPidFile);
        File.Delete(ServerFile);
        File.Delete(ObserverProcesses.File(this));
    }
}
