using System.Diagnostics;
using System.Reflection;

namespace Parley.Cli.Local;

/// <summary>
/// <c>parley up --detach</c>: starts this same program again (same executable, or same dll under <c>dotnet</c>) in a new
/// session with its output in up.log, and waits until it serves <c>/health/ready</c>.
/// </summary>
public static class Detacher
{
    /// <summary>Set in the detached child so it records its exit code for the parent.</summary>
    public const string ChildVariable = "PARLEY_DETACHED";

    public static bool IsDetachedChild => Environment.GetEnvironmentVariable(ChildVariable) == "1";

    /// <summary>The command line that runs this program: [executable, (entry dll when the executable is dotnet)].</summary>
    public static IReadOnlyList<string> SelfCommand()
    {
        var executable = Environment.ProcessPath ?? throw new CliException(ExitCodes.Failure, "cannot tell which executable runs parley");
        if (Path.GetFileNameWithoutExtension(executable) == "dotnet" && Assembly.GetEntryAssembly()?.Location is { Length: > 0 } dll)
            return [executable, dll];
        return [executable];
    }

    /// <summary>Launches <paramref name="arguments"/> detached; returns its pid (also written to up.pid).</summary>
    public static int Launch(ParleyHome home, IEnumerable<string> arguments)
    {
        home.Create();
        File.Delete(home.UpExitFile);
        // sh starts setsid in the background and prints its pid; setsid, not a group leader there, execs in place, so the pid is ours.
        var start = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("setsid \"$0\" \"$@\" >>\"$PARLEY_UP_LOG\" 2>&1 </dev/null & echo $!");
        foreach (var argument in SelfCommand().Concat(arguments))
            start.ArgumentList.Add(argument);
        start.Environment["PARLEY_UP_LOG"] = home.UpLogFile;
        start.Environment[ChildVariable] = "1";
        File.WriteAllText(home.UpLogFile, $"--- parley up, detached at {DateTimeOffset.Now:O} ---\n");
        using var shell = Process.Start(start) ?? throw new CliException(ExitCodes.Failure, "could not start /bin/sh");
        var output = shell.StandardOutput.ReadToEnd();
        shell.WaitForExit();
        if (!int.TryParse(output.Trim(), out var pid))
            throw new CliException(ExitCodes.Failure, $"could not start parley up in the background: {output.Trim()}");
        home.WriteUpPid(pid);
        return pid;
    }

    /// <summary>
    /// Waits until the detached <c>up</c> answers ready (returns its URL), or fails with its exit code and log tail
    /// when it dies or does not get ready within <paramref name="timeout"/> (then it is stopped).
    /// </summary>
    public static async Task<string> WaitUntilReadyAsync(ParleyHome home, int pid, TimeSpan timeout, TextWriter progress, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        var dots = 0;
        try
        {
            while (true)
            {
                if (!Processes.IsAlive(pid))
                    throw Failed(home, $"parley up (pid {pid}) exited before it was ready", ReadExitCode(home));
                if (ServerInfo.Read(home) is { Pid: var serverPid, Urls: [var url, ..] } && serverPid == pid && await HealthProbe.IsReadyAsync(url, ct))
                    return url;
                if (DateTime.UtcNow >= deadline)
                {
                    await Processes.TerminateAsync(pid, TimeSpan.FromSeconds(30), ct);
                    throw Failed(home, $"parley up (pid {pid}) was not ready within {timeout.TotalSeconds:0} s; stopped it", ExitCodes.Failure);
                }
                await Task.Delay(250, ct);
                if (++dots % 4 == 0)
                    await progress.WriteAsync('.');
            }
        }
        finally
        {
            if (dots >= 4)
                await progress.WriteLineAsync();
        }
    }

    private static int ReadExitCode(ParleyHome home) =>
        File.Exists(home.UpExitFile) && int.TryParse(File.ReadAllText(home.UpExitFile).Trim(), out var code) && code != 0 ? code : ExitCodes.Failure;

    private static CliException Failed(ParleyHome home, string what, int exitCode) =>
        new(exitCode, $"{what}. Last lines of {home.UpLogFile}:{Environment.NewLine}{Tail(home.UpLogFile, 30)}");

    internal static string Tail(string path, int lines) =>
        File.Exists(path) ? string.Join(Environment.NewLine, File.ReadLines(path).TakeLast(lines).Select(line => "  | " + line)) : "  (no log)";
}
