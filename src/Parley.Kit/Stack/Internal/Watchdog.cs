using System.Diagnostics;
using System.Globalization;

namespace Parley.Kit.Stack.Internal;

/// <summary>
/// A detached shell (its own session, so it outlives us) that polls the owner process once a second and,
/// when it is gone (even after kill -9), stops every component and deletes the stack's directories.
/// </summary>
internal static class Watchdog
{
    private const string Functions = """
        exec </dev/null >/dev/null 2>&1
        alive() { [ -d "/proc/$1" ] && ! grep -qs '^State:[[:space:]]*[ZX]' "/proc/$1/status"; }
        stop_pid() {
          pid=$(head -n 1 "$1" 2>/dev/null)
          case "$pid" in ''|*[!0-9]*) return 0 ;; esac
          kill -TERM "$pid" 2>/dev/null
          n=0
          while alive "$pid" && [ "$n" -lt 100 ]; do sleep 0.1; n=$((n + 1)); done
          alive "$pid" && kill -KILL "$pid" 2>/dev/null
          return 0
        }
        """;

    /// <summary>Starts the watchdog and returns its pid, which is also its process group id.</summary>
    /// <param name="stopCommands">Shell commands in the order to run them (reverse start order).</param>
    /// <param name="cleanup">Shell commands run after them (deleting directories and stack.json).</param>
    public static int Start(StackBinaries binaries, int ownerPid, IEnumerable<string> stopCommands, IEnumerable<string> cleanup)
    {
        var script = string.Join('\n', [
            Functions,
            $"while alive {ownerPid.ToString(CultureInfo.InvariantCulture)}; do sleep 1; done",
            .. stopCommands,
            .. cleanup,
        ]);
        // setsid execs in place (we are not a process group leader), so the pid is the shell's.
        var info = new ProcessStartInfo(binaries.SetSid)
        {
            ArgumentList = { "sh", "-c", script },
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = "/",
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException("Could not start the stack watchdog.");
        return process.Id;
    }

    /// <summary>Ends the watchdog and its sleep without it tearing anything down.</summary>
    public static void Stop(int pid) => ProcessTree.KillGroup(pid);
}
