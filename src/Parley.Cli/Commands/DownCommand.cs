using System.CommandLine;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary><c>parley down</c>: stops what <c>parley up</c> started, leaving no process or port behind. Idempotent.</summary>
public static class DownCommand
{
    // A clean stop of the server and four components takes a few seconds; give it ample time before SIGKILL.
    private static readonly TimeSpan UpGrace = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan StackGrace = TimeSpan.FromSeconds(30);

    public static Command Create(GlobalOptions global)
    {
        var command = new Command("down", "Stop the server started by `parley up` and the local stack.");
        command.SetHandler(global, RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, CliContext cli, CancellationToken ct)
    {
        var home = cli.Home;
        var before = LocalInstance.Read(home);
        var stopped = new List<string>();

        if (before.UpPid is { } upPid && Processes.IsAlive(upPid))
        {
            var clean = await Processes.TerminateAsync(upPid, UpGrace, ct);
            stopped.Add(clean ? $"parley up (pid {upPid})" : $"parley up (pid {upPid}, killed after {UpGrace.TotalSeconds:0} s)");
        }

        // The up process stops its observers and stack on SIGTERM; whatever is left (it was killed, or the stack ran alone) goes here,
        // observers first (they release their lease and claims while the database is still there).
        var after = LocalInstance.Read(home);
        var observers = after.Observers.Where(o => Processes.IsAlive(o.Pid)).ToList();
        if (observers.Count > 0)
        {
            await ObserverProcesses.StopAsync(observers, StackGrace);
            stopped.Add("observers (" + string.Join(", ", observers.Select(o => $"{o.Name} pid {o.Pid}")) + ")");
        }
        if (after.Stack is not null)
        {
            await LocalStack.StopFromStateAsync(home.Root, ct);
            stopped.Add("stack (" + string.Join(", ", after.Stack.Components.Select(c => c.Name)) + ")");
        }
        foreach (var pid in after.LiveStackPids)
        {
            if (!await Processes.WaitForExitAsync(pid, StackGrace, ct))
                await Processes.TerminateAsync(pid, TimeSpan.FromSeconds(5), ct);
        }
        home.ClearServerFiles();

        if (cli.Json)
            cli.WriteJson(new { stopped });
        else if (stopped.Count == 0)
            await cli.Out.WriteLineAsync($"Nothing running from {home.Root}.");
        else
            await cli.Out.WriteLineAsync($"Stopped {string.Join(" and ", stopped)}.");
        return ExitCodes.Ok;
    }
}
