using System.CommandLine;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data.Outbox;

namespace Parley.Cli.Commands;

/// <summary><c>parley dlq list|show|retry|purge</c>: the outbox rows that failed past the retry limit.</summary>
public static class DlqCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("dlq", "Inspect, retry or purge dead-lettered events (outbox rows that failed past the retry limit).");

        var connection = DatabaseTarget.Option();
        var limit = new Option<int>("--limit") { Description = "At most this many rows.", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "List dead letters, oldest first.") { connection, limit };
        list.SetHandler(global, (r, cli, ct) => WithStore(cli, r.GetValue(connection), store => ListAsync(cli, store, r.GetValue(limit), ct)));

        var id = new Argument<long>("id") { Description = "The dead letter's id (from `parley dlq list`)." };
        var show = new Command("show", "Show one dead letter with its payload and last error.") { connection, id };
        show.SetHandler(global, (r, cli, ct) => WithStore(cli, r.GetValue(connection), store => ShowAsync(cli, store, r.GetValue(id), ct)));

        command.Add(list);
        command.Add(show);
        command.Add(Mutation("retry", "Put dead letters back into the outbox; the dispatcher publishes them again.", global, (s, ids, ct) => s.RetryAsync(ids, ct)));
        command.Add(Mutation("purge", "Delete dead letters for good.", global, (s, ids, ct) => s.PurgeAsync(ids, ct)));
        return command;
    }

    private static Command Mutation(string name, string description, GlobalOptions global, Func<DeadLetterStore, IReadOnlyCollection<long>?, CancellationToken, Task<int>> run)
    {
        var connection = DatabaseTarget.Option();
        var ids = new Argument<long[]>("ids") { Description = "Dead letter ids; none with --all.", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = $"{char.ToUpperInvariant(name[0])}{name[1..]} every dead letter." };
        var command = new Command(name, description) { connection, ids, all };
        command.SetHandler(global, (r, cli, ct) => WithStore(cli, r.GetValue(connection), async store =>
        {
            var chosen = r.GetValue(ids) ?? [];
            var everything = r.GetValue(all);
            if (chosen.Length == 0 && !everything)
                throw new CliException(ExitCodes.Usage, $"name the ids to {name}, or pass --all.");
            if (chosen.Length > 0 && everything)
                throw new CliException(ExitCodes.Usage, "pass ids or --all, not both.");
            var count = await run(store, everything ? null : chosen, ct);
            if (cli.Json) cli.WriteJson(new { action = name, count });
            else await cli.Out.WriteLineAsync($"{name}: {count} dead letter{(count == 1 ? "" : "s")}.");
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static async Task<int> WithStore(CliContext cli, string? connection, Func<DeadLetterStore, Task<int>> action)
    {
        await using var dataSource = DatabaseTarget.Open(cli, connection);
        try
        {
            return await action(new DeadLetterStore(dataSource));
        }
        catch (NpgsqlException e)
        {
            throw new CliException(ExitCodes.Failure, $"database error: {e.Message}");
        }
    }

    private static async Task<int> ListAsync(CliContext cli, DeadLetterStore store, int limit, CancellationToken ct)
    {
        if (limit is < 1 or > 10_000) throw new CliException(ExitCodes.Usage, "--limit must be between 1 and 10000.");
        var rows = await store.ListAsync(limit, ct: ct);
        var total = await store.CountAsync(ct);
        if (cli.Json)
        {
            cli.WriteJson(new { total, items = rows });
            return ExitCodes.Ok;
        }
        if (rows.Count == 0)
        {
            await cli.Out.WriteLineAsync("The dead-letter queue is empty.");
            return ExitCodes.Ok;
        }
        TextTable.Write(cli.Out, ["ID", "TYPE", "CONVERSATION", "ATTEMPTS", "DEAD AT", "LAST ERROR"], rows.Select(r => (IReadOnlyList<string>)
            [r.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), r.Type, r.ConversationId.ToString(), r.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture),
             r.DeadAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture), Shorten(r.LastError)]));
        await cli.Out.WriteLineAsync($"{rows.Count} of {total} shown. Retry with `parley dlq retry <id>...` or `--all`.");
        return ExitCodes.Ok;
    }

    private static async Task<int> ShowAsync(CliContext cli, DeadLetterStore store, long id, CancellationToken ct)
    {
        var row = await store.GetAsync(id, ct) ?? throw new CliException(ExitCodes.Failure, $"no dead letter with id {id}.");
        if (cli.Json)
        {
            cli.WriteJson(row);
            return ExitCodes.Ok;
        }
        await cli.Out.WriteLineAsync($"""
            id            {row.Id} (outbox row {row.OutboxId})
            type          {row.Type}
            conversation  {row.ConversationId}
            created       {row.CreatedAt:u}
            dead since    {row.DeadAt:u} after {row.Attempts} attempts
            last error    {row.LastError}
            payload       {row.Payload}
            """);
        return ExitCodes.Ok;
    }

    internal static string Shorten(string? text) => text is null ? "" : text.Length <= 60 ? text : text[..57] + "...";
}
