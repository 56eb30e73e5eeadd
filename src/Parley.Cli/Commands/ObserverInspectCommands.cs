using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Npgsql;
using Parley.Cli.Configuration;
using Parley.Cli.Local;
using Parley.Data.Search;
using Parley.Observer;
using Parley.Observer.Inspection;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley observer status|debug-event|dlq|endpoints|search</c>: the observer group's state and its dead letters,
/// read from PostgreSQL (and each process's <c>GET /status</c>) through <see cref="ObserverInspector"/>; the
/// documents of <c>index</c> actions through <see cref="SearchStore"/>.
/// </summary>
public static class ObserverInspectCommands
{
    private const string NameKey = ObserverOptions.Section + ":" + nameof(ObserverOptions.Name);

    public static IEnumerable<Command> Create(GlobalOptions global) => [Status(global), DebugEvent(global), Dlq(global), Endpoints(global), Search(global)];

    private static Option<string?> NameOption() => new("--name")
    {
        Description = "The observer group (Parley:Observer:Name). Default: Parley:Observer:Name from appsettings.json or Parley__Observer__Name, else parley_observer.",
    };

    private static Command Status(GlobalOptions global)
    {
        var (connection, name) = (DatabaseTarget.Option(), NameOption());
        var command = new Command("status",
            "The group's instances (role, pid, events/s, breakers), leader, checkpoint, lag and DLQ depth. Exit 0: a leader and every instance answer, 3: some do not, 1: none runs.")
        {
            connection, name,
        };
        command.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(connection), r.GetValue(name), async inspector =>
        {
            using var http = new HttpClient();
            var status = await inspector.StatusAsync(http, ct);
            var exitCode = status.Instances.All(i => i.Live is null) ? ExitCodes.Failure
                : status.Leader is { Live: true } && status.Instances.All(i => i.Live is not null) ? ExitCodes.Ok
                : ExitCodes.Degraded;
            if (cli.Json) cli.WriteJson(status);
            else await WriteStatusAsync(cli.Out, status);
            return exitCode;
        }));
        return command;
    }

    private static async Task WriteStatusAsync(TextWriter o, GroupStatus s)
    {
        await o.WriteLineAsync($"Observer group {s.Observer}");
        await o.WriteLineAsync(s.Leader is { } l
            ? $"Leader: {l.Instance} (pid {l.Pid} on {l.Host}), term {l.Term}, since {l.Since:u}{(l.Live ? "" : $", LAPSED at {l.ExpiresAt:u}")}"
            : "Leader: none yet");
        await o.WriteLineAsync(s.Checkpoint is { } c
            ? $"Checkpoint: {c.Lsn} (last commit {(c.CommittedAt is { } at ? at.ToString("u", CultureInfo.InvariantCulture) : "-")}), "
              + $"lag {Lag(s)} s and {(c.LagBytes?.ToString(CultureInfo.InvariantCulture) ?? "?")} bytes; slot {c.Slot} {(c.SlotActive ? "active" : "inactive")}, retains {c.RetainedBytes?.ToString(CultureInfo.InvariantCulture) ?? "?"} bytes"
            : "Checkpoint: none yet");
        await o.WriteLineAsync($"Queue: {s.Pending} pending or running, {s.DlqDepth} dead (`parley observer dlq list`)");
        await o.WriteLineAsync();
        if (s.Instances.Count == 0) await o.WriteLineAsync("No observer process is registered.");
        else
        {
            TextTable.Write(o, ["INSTANCE", "PID", "ROLE", "URL", "EVENTS/S", "RUNNING", "STATE"], s.Instances.Select(i => (IReadOnlyList<string>)
                [i.Instance, $"{i.Pid}", i.Live?.Role ?? i.Role, i.Url ?? "-", i.Live is { } live ? live.EventsPerSecond.ToString("0.#", CultureInfo.InvariantCulture) : "-",
                 i.Live?.RunningActions.ToString(CultureInfo.InvariantCulture) ?? "-", i.Live is null ? $"not answering ({i.Error})" : "running"]));
        }
        var breakers = s.Instances.SelectMany(i => (i.Live?.Breakers ?? []).Select(b => (IReadOnlyList<string>)[b.Endpoint, b.State, i.Instance])).ToList();
        if (breakers.Count > 0)
        {
            await o.WriteLineAsync();
            TextTable.Write(o, ["ENDPOINT", "BREAKER", "INSTANCE"], breakers);
        }
        foreach (var d in s.DisabledEndpoints)
            await o.WriteLineAsync($"Disabled since {d.DisabledAt:u}: {d.Url} ({d.Reason}); `parley observer endpoints enable {d.Url}`");
    }

    private static string Lag(GroupStatus s) =>
        s.Instances.Select(i => i.Live).FirstOrDefault(l => l is { Role: "leader" }) is { } leader
            ? leader.CheckpointLagSeconds.ToString("0.###", CultureInfo.InvariantCulture) : "?";

    private static Command DebugEvent(GlobalOptions global)
    {
        var (connection, name) = (DatabaseTarget.Option(), NameOption());
        var id = new Argument<string>("event-id") { Description = "The event's id (the first part of its webhook-id)." };
        var command = new Command("debug-event", "The rules an event matched and, per action, every attempt with its time, status or error and duration. Exit 1: no action was queued for it.")
        {
            connection, name, id,
        };
        command.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(connection), r.GetValue(name), async inspector =>
        {
            var eventId = r.GetValue(id)!;
            var trace = await inspector.TraceEventAsync(eventId, ct)
                ?? throw new CliException(ExitCodes.Failure, $"no action was queued for event {eventId} in group {inspector.Observer} (it matched no rule, was not read yet, or was purged).");
            if (cli.Json)
            {
                cli.WriteJson(trace);
                return ExitCodes.Ok;
            }
            await cli.Out.WriteLineAsync($"Event {trace.EventId}: {Source(trace.Event)}");
            await cli.Out.WriteLineAsync($"Rules matched: {string.Join(", ", trace.Rules)}");
            foreach (var a in trace.Actions)
            {
                await cli.Out.WriteLineAsync();
                await cli.Out.WriteLineAsync($"{a.Action.Rule}/{a.Action.Action} ({a.Action.Kind}{(a.Action.Endpoint is { } ep ? $" {ep}" : "")}): {Describe(a.Action)}");
                await cli.Out.WriteLineAsync($"  webhook-id {a.Action.WebhookId}, queue id {a.Action.Id}, queued {a.Action.CreatedAt:u}");
                if (a.Attempts.Count == 0) await cli.Out.WriteLineAsync("  no attempt yet");
                else
                    TextTable.Write(cli.Out, ["  #", "STARTED", "DURATION", "OUTCOME", "STATUS", "ERROR"], a.Attempts.Select(t => (IReadOnlyList<string>)
                        [$"  {t.Attempt}", t.StartedAt.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture), $"{t.DurationMs:0.#} ms", t.Outcome,
                         t.Status?.ToString(CultureInfo.InvariantCulture) ?? "-", DlqCommand.Shorten(t.Error)]));
            }
            return ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Dlq(GlobalOptions global)
    {
        var command = new Command("dlq", "The observer's dead letters: actions that failed their last attempt (exhausted) or whose event was too large (too_large).");

        var (connection, name) = (DatabaseTarget.Option(), NameOption());
        var limit = new Option<int>("--limit") { Description = "At most this many rows.", DefaultValueFactory = _ => 100 };
        var list = new Command("list", "List dead letters, oldest first.") { connection, name, limit };
        list.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(connection), r.GetValue(name), async inspector =>
        {
            var max = r.GetValue(limit);
            if (max is < 1 or > 10_000) throw new CliException(ExitCodes.Usage, "--limit must be between 1 and 10000.");
            var rows = await inspector.ListDeadAsync(max, ct);
            var total = await inspector.DeadCountAsync(ct);
            if (cli.Json)
            {
                cli.WriteJson(new { total, items = rows });
                return ExitCodes.Ok;
            }
            if (rows.Count == 0)
            {
                await cli.Out.WriteLineAsync("The observer's dead-letter queue is empty.");
                return ExitCodes.Ok;
            }
            TextTable.Write(cli.Out, ["ID", "WEBHOOK-ID", "KIND", "ATTEMPTS", "REASON", "DEAD AT", "LAST ERROR"], rows.Select(a => (IReadOnlyList<string>)
                [$"{a.Id}", a.WebhookId, a.Kind, $"{a.Attempts}", a.DeadReason ?? "-", a.CompletedAt?.ToString("u", CultureInfo.InvariantCulture) ?? "-", DlqCommand.Shorten(a.LastError)]));
            await cli.Out.WriteLineAsync($"{rows.Count} of {total} shown. Retry with `parley observer dlq retry <id>...` or `--all`.");
            return ExitCodes.Ok;
        }));

        var (showConnection, showName) = (DatabaseTarget.Option(), NameOption());
        var id = new Argument<long>("id") { Description = "The dead letter's id (from `parley observer dlq list`)." };
        var show = new Command("show", "One dead letter: its event, its action (the webhook secret left out) and every attempt.") { showConnection, showName, id };
        show.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(showConnection), r.GetValue(showName), async inspector =>
        {
            var detail = await inspector.ShowAsync(r.GetValue(id), ct) is { Action.Status: "dead" } d ? d
                : throw new CliException(ExitCodes.Failure, $"no dead letter with id {r.GetValue(id)} in group {inspector.Observer}.");
            if (cli.Json)
            {
                cli.WriteJson(detail);
                return ExitCodes.Ok;
            }
            var a = detail.Action;
            await cli.Out.WriteLineAsync($"""
                id            {a.Id}
                webhook-id    {a.WebhookId}
                action        {a.Rule}/{a.Action} ({a.Kind}{(a.Endpoint is { } ep ? $" {ep}" : "")})
                queued        {a.CreatedAt:u}
                dead since    {a.CompletedAt:u} after {a.Attempts} attempts ({a.DeadReason})
                last error    {a.LastError}{(a.LastStatus is { } st ? $" (HTTP {st})" : "")}
                spec          {detail.Spec.GetRawText()}
                event         {detail.Event.GetRawText()}
                """);
            foreach (var t in detail.Attempts)
                await cli.Out.WriteLineAsync($"  attempt {t.Attempt} at {t.StartedAt:u}: {t.Outcome} {t.Status?.ToString(CultureInfo.InvariantCulture) ?? ""} {t.DurationMs:0.#} ms {t.Error}".TrimEnd());
            return ExitCodes.Ok;
        }));

        command.Add(list);
        command.Add(show);
        command.Add(Mutation("retry", "Give dead letters one more attempt, due now, with the same webhook-id; a success removes them from the DLQ, a failure puts them back.",
            global, async (inspector, ids, ct) =>
            {
                var result = await inspector.RetryAsync(ids, ct);
                return (result.Retried, result.NotRetried.Count == 0 ? null
                    : $"not retried (too_large: the event was not kept): {string.Join(", ", result.NotRetried)}");
            }));
        command.Add(Mutation("purge", "Delete dead letters and their attempts for good.", global, async (inspector, ids, ct) => (await inspector.PurgeAsync(ids, ct), null)));
        return command;
    }

    private static Command Mutation(string verb, string description, GlobalOptions global,
        Func<ObserverInspector, IReadOnlyCollection<long>?, CancellationToken, Task<(int Count, string? Note)>> run)
    {
        var (connection, name) = (DatabaseTarget.Option(), NameOption());
        var ids = new Argument<long[]>("ids") { Description = "Dead letter ids; none with --all.", Arity = ArgumentArity.ZeroOrMore };
        var all = new Option<bool>("--all") { Description = $"{char.ToUpperInvariant(verb[0])}{verb[1..]} every dead letter of the group." };
        var command = new Command(verb, description) { connection, name, ids, all };
        command.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(connection), r.GetValue(name), async inspector =>
        {
            var chosen = r.GetValue(ids) ?? [];
            var everything = r.GetValue(all);
            if (chosen.Length == 0 && !everything) throw new CliException(ExitCodes.Usage, $"name the ids to {verb}, or pass --all.");
            if (chosen.Length > 0 && everything) throw new CliException(ExitCodes.Usage, "pass ids or --all, not both.");
            var (count, note) = await run(inspector, everything ? null : chosen, ct);
            if (cli.Json) cli.WriteJson(new { action = verb, count, note });
            else
            {
                await cli.Out.WriteLineAsync($"{verb}: {count} dead letter{(count == 1 ? "" : "s")}.");
                if (note is not null) await cli.Out.WriteLineAsync(note);
            }
            // Named ids that were not dead letters of the group: the operator asked for something that did not happen.
            return !everything && count < chosen.Distinct().Count() ? ExitCodes.Failure : ExitCodes.Ok;
        }));
        return command;
    }

    private static Command Endpoints(GlobalOptions global)
    {
        var (connection, name) = (DatabaseTarget.Option(), NameOption());
        var url = new Argument<string>("url") { Description = "The endpoint's URL exactly as the rules file gives it." };
        var enable = new Command("enable", "Let the actions of an endpoint disabled by a 410 Gone run again (they wait in the queue meanwhile). Exit 1: it was not disabled.")
        {
            connection, name, url,
        };
        enable.SetHandler(global, (r, cli, ct) => WithInspector(cli, r.GetValue(connection), r.GetValue(name), async inspector =>
        {
            var target = r.GetValue(url)!;
            var enabled = await inspector.EnableEndpointAsync(target, ct);
            if (cli.Json) cli.WriteJson(new { url = target, enabled });
            else await cli.Out.WriteLineAsync(enabled ? $"Enabled {target}: its waiting actions run now." : $"{target} was not disabled in group {inspector.Observer}.");
            return enabled ? ExitCodes.Ok : ExitCodes.Failure;
        }));
        return new Command("endpoints", "Endpoints that answered 410 Gone.") { enable };
    }

    private static Command Search(GlobalOptions global)
    {
        var connection = DatabaseTarget.Option();
        var index = new Argument<string>("name") { Description = "The index: the name of the rules' index actions." };
        var query = new Argument<string>("query") { Description = "Words to find, web-search style: \"a phrase\", or, -word." };
        var limit = new Option<int>("--limit") { Description = "At most this many documents, best first.", DefaultValueFactory = _ => 20 };
        var command = new Command("search", "Search the documents of a named index that `index` actions wrote (Parley's messages: GET /v1/search/messages).")
        {
            connection, index, query, limit,
        };
        command.SetHandler(global, async (r, cli, ct) =>
        {
            var max = r.GetValue(limit);
            if (max is < 1 or > 1_000) throw new CliException(ExitCodes.Usage, "--limit must be between 1 and 1000.");
            await using var dataSource = DatabaseTarget.Open(cli, r.GetValue(connection));
            IReadOnlyList<SearchHit> hits;
            try
            {
                hits = await new SearchStore(dataSource).SearchAsync(r.GetValue(index)!, r.GetValue(query)!, max, ct);
            }
            catch (NpgsqlException e)
            {
                throw new CliException(ExitCodes.Failure, $"database error: {e.Message}");
            }
            if (cli.Json) cli.WriteJson(new { index = r.GetValue(index), query = r.GetValue(query), items = hits });
            else if (hits.Count == 0) await cli.Out.WriteLineAsync("No document matches.");
            else
                TextTable.Write(cli.Out, ["EVENT", "RANK", "INDEXED", "TEXT"], hits.Select(h => (IReadOnlyList<string>)
                    [h.DocumentId, h.Rank.ToString("0.####", CultureInfo.InvariantCulture), h.IndexedAt.ToString("u", CultureInfo.InvariantCulture), DlqCommand.Shorten(h.Body)]));
            return ExitCodes.Ok;
        });
        return command;
    }

    private static async Task<int> WithInspector(CliContext cli, string? connection, string? name, Func<ObserverInspector, Task<int>> action)
    {
        var configured = name is null ? ParleyConfiguration.Load(file: null)[NameKey] : null;
        var group = name ?? (string.IsNullOrWhiteSpace(configured) ? new ObserverOptions().Name : configured);
        await using var dataSource = DatabaseTarget.Open(cli, connection);
        try
        {
            return await action(new ObserverInspector(dataSource, group));
        }
        catch (NpgsqlException e)
        {
            throw new CliException(ExitCodes.Failure, $"database error: {e.Message}");
        }
    }

    private static string Source(JsonElement e) =>
        $"{(e.TryGetProperty("source", out var s) ? s.GetString() : "?")} {(e.TryGetProperty("type", out var t) ? t.GetString() : "?")}";

    private static string Describe(ActionInfo a) => a.Status switch
    {
        "dead" => $"dead ({a.DeadReason}) after {a.Attempts} attempt(s)",
        _ => $"{a.Status} after {a.Attempts} attempt(s)",
    };
}
