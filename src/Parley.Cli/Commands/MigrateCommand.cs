using System.CommandLine;
using Npgsql;
using Parley.Cli.Local;
using Parley.Data.Migrations;

namespace Parley.Cli.Commands;

/// <summary><c>parley migrate</c>: applies the embedded schema migrations.</summary>
public static class MigrateCommand
{
    public static Command Create(GlobalOptions global)
    {
        var connection = DatabaseTarget.Option();
        var command = new Command("migrate", "Apply the schema migrations and print the final version.") { connection };
        command.SetHandler(global, (result, cli, ct) => RunAsync(cli, result.GetValue(connection), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, string? connection, CancellationToken ct)
    {
        var dataSource = DatabaseTarget.Open(cli, connection);
        await using (dataSource)
        {
            MigrationResult migrated;
            try
            {
                migrated = await Migrator.MigrateAsync(dataSource, cli.Json ? null : cli.Progress, ct);
            }
            catch (Exception e) when (e is NpgsqlException or MigrationException)
            {
                throw new CliException(ExitCodes.Failure, $"migration failed: {e.Message}");
            }
            if (cli.Json)
            {
                cli.WriteJson(new
                {
                    from = migrated.FromVersion,
                    to = migrated.ToVersion,
                    latest = Migrator.LatestVersion,
                    applied = migrated.Applied.Select(m => new { m.Version, m.Name }),
                });
            }
            else
            {
                foreach (var migration in migrated.Applied)
                    await cli.Out.WriteLineAsync($"applied {migration.Version:D4}_{migration.Name}");
                await cli.Out.WriteLineAsync($"Schema at version {migrated.ToVersion} (latest known: {Migrator.LatestVersion}; {migrated.Applied.Count} applied now).");
            }
        }
        return ExitCodes.Ok;
    }
}
