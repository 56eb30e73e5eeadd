using System.CommandLine;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley failover</c>: the local stack's replica becomes the primary and the old primary is cloned again as the replica
/// (LocalStack.FailoverFromStateAsync). The nodes of <c>parley up</c> follow by themselves: their connection strings name both
/// servers (Target Session Attributes), and PgBouncer is re-pointed. stack.json, a durable stack's ports and its roles say what
/// runs where, so <c>parley status</c>, <c>down</c> and the next <c>up</c> keep the swapped roles.
/// </summary>
public static class FailoverCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("failover", "Promote the local stack's replica to primary and re-seed the old primary as its replica (the primary is stopped first if it runs).");
        command.SetHandler(global, RunAsync);
        return command;
    }

    private static async Task<int> RunAsync(ParseResult result, CliContext cli, CancellationToken ct)
    {
        var stack = LocalInstance.Read(cli.Home).Stack;
        if (stack is null || !stack.Components.Any(c => c.Kind == StackComponentKind.Replica))
            throw new CliException(ExitCodes.Failure, $"No local stack with a replica runs from {cli.Home.Root}; start one with `parley up`.");
        FailoverReport report;
        try
        {
            report = await LocalStack.FailoverFromStateAsync(cli.Home.Root, cli.Progress, ct);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(ExitCodes.Failure, e.Message);
        }
        if (cli.Json)
        {
            cli.WriteJson(new
            {
                primaryPort = report.PrimaryPort,
                replicaPort = report.ReplicaPort,
                primaryWasRunning = report.PrimaryWasRunning,
                promotedSeconds = Math.Round(report.Promoted.TotalSeconds, 2),
                totalSeconds = Math.Round(report.Total.TotalSeconds, 2),
            });
        }
        else
        {
            await cli.Out.WriteLineAsync(
                $"Failed over: the primary is now on :{report.PrimaryPort} (promoted in {report.Promoted.TotalSeconds:0.0} s), " +
                $"the replica on :{report.ReplicaPort} ({(report.PrimaryWasRunning ? "the old primary, stopped and" : "the dead primary,")} re-seeded; {report.Total.TotalSeconds:0.0} s in all).");
        }
        return ExitCodes.Ok;
    }
}
