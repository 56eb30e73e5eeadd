using System.CommandLine;
using System.Text.Json;
using Npgsql;
using Parley.Kit.Load.Seeding;
using Parley.Kit.Stack;

namespace Parley.Cli.Commands;

/// <summary><c>parley load seed</c>: bulk data for load runs, by binary COPY straight into the primary.</summary>
public static class LoadSeedCommand
{
    public static Command Create(GlobalOptions global)
    {
        var users = new Option<int>("--users") { Description = "Users load_0..load_N-1 (existing ones are reused).", DefaultValueFactory = _ => 1_000 };
        var conversations = new Option<int>("--conversations") { Description = "New conversations.", DefaultValueFactory = _ => 10_000 };
        var messages = new Option<long>("--messages") { Description = "New messages, spread evenly over the conversations.", DefaultValueFactory = _ => 1_000_000 };
        var members = new Option<int>("--members") { Description = "Participants per conversation (owner included).", DefaultValueFactory = _ => 3 };
        var body = new Option<int>("--body-bytes") { Description = "Message body size.", DefaultValueFactory = _ => 100 };
        var connection = new Option<string?>("--connection") { Description = "PostgreSQL connection string of the primary. Default: the primary of the stack in --root (stack.json)." };
        var command = new Command("seed", "Bulk-load users, conversations, participants and messages with binary COPY into the primary.")
        {
            users, conversations, messages, members, body, connection,
        };
        command.SetHandler(global, async (result, cli, ct) =>
        {
            var connectionString = result.GetValue(connection) ?? PrimaryOf(cli);
            var options = new SeedOptions(result.GetValue(users), result.GetValue(conversations), result.GetValue(messages), result.GetValue(members), result.GetValue(body));
            SeedResult seeded;
            try
            {
                seeded = await Seeder.SeedAsync(connectionString, options, cli.Progress, ct);
            }
            catch (ArgumentException e)
            {
                throw new CliException(ExitCodes.Usage, e.Message);
            }
            catch (NpgsqlException e)
            {
                throw new CliException(ExitCodes.Failure, $"seeding failed: {e.Message}");
            }
            if (cli.Json)
                cli.WriteJson(new { seeded.Users, seeded.Conversations, seeded.Messages, seconds = seeded.Elapsed.TotalSeconds, seeded.MessagesPerSecond });
            else
                await cli.Out.WriteLineAsync($"Seeded {seeded.Users:N0} users, {seeded.Conversations:N0} conversations and {seeded.Messages:N0} messages in {seeded.Elapsed.TotalSeconds:0.0} s ({seeded.MessagesPerSecond:N0} messages/s).");
            return ExitCodes.Ok;
        });
        return command;
    }

    private static string PrimaryOf(CliContext cli)
    {
        var path = Path.Combine(cli.Home.Root, "stack.json");
        if (!File.Exists(path))
            throw new CliException(ExitCodes.Usage, $"No stack runs from {cli.Home.Root} (no stack.json): start one with `parley up --detach`, or pass --connection.");
        var state = JsonSerializer.Deserialize<StackState>(File.ReadAllText(path), StackState.JsonOptions);
        return state?.PrimaryConnectionString ?? throw new CliException(ExitCodes.Usage, $"{path} names no primary; pass --connection.");
    }
}
