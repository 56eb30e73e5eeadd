using System.CommandLine;
using Parley.Cli.Local;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley reset --yes</c>: deletes the local stack's data (every user, conversation and message; Redis too). Refuses
/// while anything runs from the root, rather than stopping it: a running stack is likely in use. Keeps parley.json.
/// </summary>
public static class ResetCommand
{
    public static Command Create(GlobalOptions global)
    {
        var yes = new Option<bool>("--yes") { Description = "Really delete the data; without it, reset only says what it would delete." };
        var command = new Command("reset", "Delete the local stack's data (users, conversations, messages). Needs --yes; refuses while `parley up` runs.")
        {
            yes,
        };
        command.SetHandler(global, (result, cli, ct) => RunAsync(cli, result.GetValue(yes)));
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, bool yes)
    {
        var home = cli.Home;
        if (!yes)
        {
            throw new CliException(ExitCodes.Usage,
                $"reset deletes every user, conversation and message of the local stack in {home.Root}; run `parley reset --yes` to do it.");
        }
        var instance = LocalInstance.Read(home);
        if (instance.AnyRunning)
        {
            throw new CliException(ExitCodes.AlreadyRunning,
                $"Parley runs from {home.Root}{(instance.Url is { } url ? $" at {url}" : "")}; stop it with `parley down`, then reset.");
        }
        string? deleted;
        try
        {
            deleted = LocalStack.DeleteDurableData(home.Root);
        }
        catch (InvalidOperationException e)
        {
            throw new CliException(ExitCodes.AlreadyRunning, e.Message);
        }
        home.ClearServerFiles();
        if (cli.Json)
            cli.WriteJson(new { deleted });
        else
            await cli.Out.WriteLineAsync(deleted is null ? $"No local data for {home.Root}; nothing to reset." : $"Deleted the local data in {deleted}.");
        return ExitCodes.Ok;
    }
}
