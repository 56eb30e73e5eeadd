using System.CommandLine;
using Npgsql;
using Parley.Cli.Configuration;
using Parley.Cli.Local;
using Parley.Data;
using Parley.Data.Migrations;

namespace Parley.Cli.Commands;

/// <summary><c>parley migrate</c>: applies the embedded schema migrations.</summary>
public static class MigrateCommand
{
    private const string ConnectionKey = DataOptions.Section + ":" + nameof(DataOptions.PrimaryConnectionString);

    public static Command Create(GlobalOptions global)
    {
        var connection = new Option<string?>("--connection", "-c")
        {
            Description = "PostgreSQL connection string (not through PgBouncer). Default: Parley:Data:PrimaryConnectionString "
                + "from appsettings.json or Parley__Data__PrimaryConnectionString, else the running local stack's primary.",
        };
        var command = new Command("migrate", "Apply the schema migrations and print the final version.") { connection };
        command.SetHandler(global, (result, cli, ct) => RunAsync(cli, result.GetValue(connection), ct));
        return command;
    }

    private static async Task<int> RunAsync(CliContext cli, string? connection, CancellationToken ct)
    {
        var configured = ParleyConfiguration.Load(file: null)[ConnectionKey];
        var connectionString = connection
            ?? (string.IsNullOrWhiteSpace(configured) ? null : configured)
            ?? LocalInstance.Read(cli.Home).Stack?.PrimaryConnectionString
            ?? throw new CliException(ExitCodes.Usage,
                "no database to migrate: pass --connection, set Parley__Data__PrimaryConnectionString, or start the local stack with `parley up`.");

        NpgsqlDataSource dataSource;
        try
        {
            dataSource = NpgsqlDataSource.Create(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.Usage, $"bad connection string: {e.Message}");
        }
        await using (dataSource)
        {
            MigrationResult migrated;
            try
            {
                migrated = await Migrator.MigrateAsync(dataSource, cli.Json ? null : cli.Progress, ct);
            }
            catch (NpgsqlException e)
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
