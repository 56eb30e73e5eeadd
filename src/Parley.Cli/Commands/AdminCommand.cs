using System.CommandLine;
using Parley.Cli.Local;
using Parley.Data;
using Parley.Data.Users;

namespace Parley.Cli.Commands;

/// <summary>
/// <c>parley admin grant|revoke &lt;handle&gt;</c>: the admin role (<c>/v1/admin/*</c>), stored with the
/// user in PostgreSQL and read on every admin call, so a change applies at once on every node.
/// </summary>
public static class AdminCommand
{
    public static Command Create(GlobalOptions global)
    {
        var command = new Command("admin", "Grant or revoke the admin role (/v1/admin/*) of a registered user.");

        var grantConnection = DatabaseTarget.Option();
        var grantHandle = HandleArgument();
        var grant = new Command("grant", "Make a registered user an admin.") { grantConnection, grantHandle };
        grant.SetHandler(global, (r, cli, ct) => WithRoles(cli, r.GetValue(grantConnection), async roles =>
        {
            var handle = r.GetValue(grantHandle)!;
            if (await roles.GrantAsync(handle, holdUntilRegistered: false, ct) == GrantOutcome.NoSuchUser)
                throw new CliException(ExitCodes.Failure, $"no user '{handle}': register it first.");
            await Report(cli, handle, admin: true);
            return ExitCodes.Ok;
        }));

        var revokeConnection = DatabaseTarget.Option();
        var revokeHandle = HandleArgument();
        var revoke = new Command("revoke", "Take the admin role from a user.") { revokeConnection, revokeHandle };
        revoke.SetHandler(global, (r, cli, ct) => WithRoles(cli, r.GetValue(revokeConnection), async roles =>
        {
            var handle = r.GetValue(revokeHandle)!;
            var was = await roles.RevokeAsync(handle, ct);
            await Report(cli, handle, admin: false, note: was ? null : " (it was not one)");
            return ExitCodes.Ok;
        }));

        command.Add(grant);
        command.Add(revoke);
        return command;
    }

    /// <summary>
    /// Grants <paramref name="handles"/> for <c>parley up --admin</c>: a handle nobody registered yet
    /// is held for its registration, since the operator names it before anyone can sign up.
    /// </summary>
    public static async Task GrantForLocalStackAsync(CliContext cli, string connectionString, IReadOnlyList<string> handles, CancellationToken ct)
    {
        if (handles.Count == 0) return;
        await using var db = new ParleyDatabase(DataOptions.ForTool(connectionString));
        var roles = new AdminRoles(db);
        foreach (var handle in handles)
        {
            var outcome = await roles.GrantAsync(handle, holdUntilRegistered: true, ct);
            await cli.Err.WriteLineAsync(outcome == GrantOutcome.Granted
                ? $"'{handle}' is an admin."
                : $"'{handle}' becomes an admin when it registers.");
        }
    }

    private static Argument<string> HandleArgument() => new("handle") { Description = "The user's handle." };

    private static async Task Report(CliContext cli, string handle, bool admin, string? note = null)
    {
        if (cli.Json) cli.WriteJson(new { handle, admin });
        else await cli.Out.WriteLineAsync($"'{handle}' is {(admin ? "an admin" : "not an admin")}{note}.");
    }

    private static Task<int> WithRoles(CliContext cli, string? connection, Func<AdminRoles, Task<int>> action) =>
        DatabaseTarget.RunAsync(cli, connection, db => action(new AdminRoles(db)));
}
