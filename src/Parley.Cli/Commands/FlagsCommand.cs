using System.CommandLine;
using Parley.Cli.Local;
using Parley.Data;
using Parley.Data.Flags;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley flags list|set</c>: the runtime feature flags, read and written in PostgreSQL directly;
/// a change is announced to every node (NOTIFY) and takes effect within a second.
/// </summary>
public static class FlagsCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("flags", "List or set runtime feature flags (every node applies a change within one second).");

        var listConnection = DatabaseTarget.Option();
        var list = new Command("list", "List the stored flags.") { listConnection };
        list.SetHandler(global, (r, cli, ct) => WithFlags(cli, r.GetValue(listConnection), async flags =>
        {
            await flags.ReloadAsync(ct);
            var all = flags.All.OrderBy(f => f.Name).ToList();
            if (cli.Json) cli.WriteJson(new { items = all });
            else if (all.Count == 0) await cli.Out.WriteLineAsync($"No flags set. Parley reads: {string.Join(", ", Known)}.");
            else TextTable.Write(cli.Out, ["FLAG", "ENABLED", "PERCENTAGE", "UPDATED"], all.Select(f => (IReadOnlyList<string>)
                [f.Name, f.Enabled ? "yes" : "no", $"{f.Percentage}%", f.UpdatedAt.ToString("u", System.Globalization.CultureInfo.InvariantCulture)]));
            return ExitCodes.Ok;
        }));

        var setConnection = DatabaseTarget.Option();
        var name = new Argument<string>("name") { Description = "The flag, e.g. message.history.replica.enabled." };
        var state = new Argument<string>("state") { Description = "on or off." };
        var percentage = new Option<int>("--percentage", "-p") { Description = "Share of users (0-100, sticky per user).", DefaultValueFactory = _ => 100 };
        var set = new Command("set", "Turn a flag on or off, for a share of users.") { setConnection, name, state, percentage };
        set.SetHandler(global, (r, cli, ct) => WithFlags(cli, r.GetValue(setConnection), async flags =>
        {
            var enabled = r.GetValue(state)?.ToLowerInvariant() switch
            {
                "on" or "true" or "enabled" => true,
                "off" or "false" or "disabled" => false,
                _ => throw new CliException(ExitCodes.Usage, "state must be on or off."),
            };
            var flagName = r.GetValue(name)!;
            if (flagName.Length is 0 or > 100 || !flagName.All(c => c is (>= 'a' and <= 'z') or (>= '0' and <= '9') or '_' or '.' or '-'))
                throw new CliException(ExitCodes.Usage, "a flag name is 1-100 characters of a-z, 0-9, '_', '.' or '-'.");
            var share = r.GetValue(percentage);
            if (share is < 0 or > 100) throw new CliException(ExitCodes.Usage, "--percentage must be between 0 and 100.");
            var flag = await flags.SetAsync(flagName, enabled, share, ct);
            if (cli.Json) cli.WriteJson(flag);
            else await cli.Out.WriteLineAsync($"{flag.Name}: {(flag.Enabled ? "on" : "off")} for {flag.Percentage}% of users."
                + (Known.Contains(flag.Name) ? "" : $" (Parley does not read this flag; it reads {string.Join(", ", Known)}.)"));
            return ExitCodes.Ok;
        }));

        command.Add(list);
        command.Add(set);
        return command;
    }

    private static readonly string[] Known = [FlagNames.HistoryReplica, FlagNames.ListReplica, FlagNames.HistoryCache, FlagNames.ListCache];

    private static Task<int> WithFlags(CliContext cli, string? connection, Func<FeatureFlags, Task<int>> action) =>
        DatabaseTarget.RunAsync(cli, connection, db => action(new FeatureFlags(db)));
}
