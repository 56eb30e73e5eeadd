using System.Runtime.InteropServices;

namespace Parley.Kit.Stack.Internal;

/// <summary>Signals and liveness for processes we did not necessarily start (Linux /proc).</summary>
internal static partial class ProcessTree
{
    private const int SigHup = 1;
    private const int SigKill = 9;
    private const int SigTerm = 15;
    private const int SigCont = 18;
    private const int SigStop = 19;

    /// <summary>True when the process exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        string stat;
        try
        {
            stat = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (IOException)
        {
            return false;
        }
        var state = StateAndParent(stat).State;
        return state is not ('Z' or 'X' or 'x');
    }

    /// <summary>True when the process is alive and runs <paramref name="name"/> (/proc/&lt;pid&gt;/comm, at most 15 characters).</summary>
    public static bool IsAliveAs(int pid, string name)
    {
        try
        {
            return IsAlive(pid) && File.ReadAllText($"/proc/{pid}/comm").TrimEnd('\n') == (name.Length > 15 ? name[..15] : name);
        }
        catch (IOException)
        {
            return false;
        }
    }

    public static void Terminate(int pid) => _ = Kill(pid, SigTerm);

    /// <summary>SIGHUP: PgBouncer and PostgreSQL read their configuration again.</summary>
    public static void Hangup(int pid) => _ = Kill(pid, SigHup);

    public static void Pause(int pid) => _ = Kill(pid, SigStop);

    public static void Resume(int pid) => _ = Kill(pid, SigCont);

    /// <summary>
    /// SIGKILLs the process and every descendant, then waits (bounded) until their parent has reaped them too:
    /// PostgreSQL refuses to start while the pid in its lock file still exists, even as a zombie. False if some remain after the timeout.
    /// </summary>
    public static Task<bool> KillTreeAsync(int pid, TimeSpan timeout, CancellationToken ct)
    {
        var victims = Descendants(pid).Prepend(pid).ToList();
        foreach (var victim in victims)
            _ = Kill(victim, SigKill);
        return WaitAsync(victims, victim => Directory.Exists($"/proc/{victim}"), timeout, ct);
    }

    /// <summary>Kills a process group (e.g. a setsid session leader and its children).</summary>
    public static void KillGroup(int pgid) => _ = Kill(-pgid, SigKill);

    /// <summary>Waits until none of the processes is alive; false if some still are after the timeout.</summary>
    public static Task<bool> WaitUntilDeadAsync(IReadOnlyCollection<int> pids, TimeSpan timeout, CancellationToken ct) =>
        WaitAsync(pids, IsAlive, timeout, ct);

    private static async Task<bool> WaitAsync(IReadOnlyCollection<int> pids, Func<int, bool> present, TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (pids.Any(present))
        {
            if (DateTime.UtcNow >= deadline)
                return false;
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        return true;
    }

    private static IEnumerable<int> Descendants(int root)
    {
        var parents = new Dictionary<int, List<int>>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
                continue;
            try
            {
                var parent = StateAndParent(File.ReadAllText(Path.Combine(dir, "stat"))).Parent;
                if (!parents.TryGetValue(parent, out var children))
                    parents[parent] = children = [];
                children.Add(pid);
            }
            catch (IOException)
            {
                // The process exited while we looked.
            }
        }
        var result = new List<int>();
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out var pid))
        {
            foreach (var child in parents.GetValueOrDefault(pid) ?? [])
            {
                result.Add(child);
                pending.Push(child);
            }
        }
        return result;
    }

    // /proc/<pid>/stat: "pid (comm) S ppid ..."; comm may hold spaces and parentheses, so parse after the last ')'.
    private static (char State, int Parent) StateAndParent(string stat)
    {
        var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ', 3);
        return (fields[0][0], int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture));
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
