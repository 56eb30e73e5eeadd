using System.Runtime.InteropServices;

namespace Parley.Cli.Local;

/// <summary>Signals and liveness checks by pid (Linux).</summary>
public static partial class Processes
{
    public const int SigTerm = 15;
    public const int SigKill = 9;
    private const int EPERM = 1;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary><c>kill -0</c>, except that a zombie (exited, not yet reaped) counts as gone.</summary>
    public static bool IsAlive(int pid)
    {
        if (pid <= 0)
            return false;
        if (Kill(pid, 0) != 0 && Marshal.GetLastPInvokeError() != EPERM)
            return false;
        return !IsZombie(pid);
    }

    public static void Signal(int pid, int signal)
    {
        if (pid > 0)
            Kill(pid, signal);
    }

    /// <summary>True when the process is gone within <paramref name="timeout"/>.</summary>
    public static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken ct = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(100, ct);
        }
        return true;
    }

    /// <summary>SIGTERM, up to <paramref name="grace"/> to exit, then SIGKILL. True when it stopped without SIGKILL.</summary>
    public static async Task<bool> TerminateAsync(int pid, TimeSpan grace, CancellationToken ct = default)
    {
        Signal(pid, SigTerm);
        if (await WaitForExitAsync(pid, grace, ct))
            return true;
        Signal(pid, SigKill);
        await WaitForExitAsync(pid, TimeSpan.FromSeconds(5), ct);
        return false;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            // /proc/<pid>/stat: "pid (comm) S ..."; comm may hold spaces and parentheses, so read after the last ')'.
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var end = stat.LastIndexOf(')');
            return end >= 0 && end + 2 < stat.Length && stat[end + 2] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }
}
