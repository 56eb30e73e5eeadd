using System.CommandLine;
using Npgsql;
using Parley.Cli.Configuration;
using Parley.Data;

namespace Parley.Cli.Local;

/// <summary>
/// Which PostgreSQL a database command talks to: <c>--connection</c>, else the configured primary
/// (appsettings.json or Parley__Data__PrimaryConnectionString), else the running local stack's primary.
/// </summary>
public static class DatabaseTarget
{
    private const string ConnectionKey = DataOptions.Section + ":" + nameof(DataOptions.PrimaryConnectionString);

    public static Option<string?> Option() => new("--connection", "-c")
    {
        Description = "PostgreSQL connection string (not through PgBouncer). Default: Parley:Data:PrimaryConnectionString "
            + "from appsettings.json or Parley__Data__PrimaryConnectionString, else the running local stack's primary.",
    };

    public static string ConnectionString(CliContext cli, string? connection)
    {
        var configured = ParleyConfiguration.Load(file: null)[ConnectionKey];
        var connectionString = connection
            ?? (string.IsNullOrWhiteSpace(configured) ? null : configured)
            ?? LocalInstance.Read(cli.Home).Stack?.PrimaryConnectionString
            ?? throw new CliException(ExitCodes.Usage,
                "no database: pass --connection, set Parley__Data__PrimaryConnectionString, or start the local stack with `parley up`.");
        try
        {
            _ = new NpgsqlConnectionStringBuilder(connectionString);
        }
        catch (ArgumentException e)
        {
            throw new CliException(ExitCodes.Usage, $"bad connection string: {e.Message}");
        }
        return connectionString;
    }

    public static NpgsqlDataSource Open(CliContext cli, string? connection) => NpgsqlDataSource.Create(ConnectionString(cli, connection));

    /// <summary>Runs <paramref name="action"/> on the target database; a database error ends it as a failure with its message.</summary>
    public static async Task<int> RunAsync(CliContext cli, string? connection, Func<ParleyDatabase, Task<int>> action)
    {
        await using var db = new ParleyDatabase(DataOptions.ForTool(ConnectionString(cli, connection)));
        try
        {
            return await action(db);
        }
        catch (NpgsqlException e)
        {
            throw new CliException(ExitCodes.Failure, $"database error: {e.Message}");
        }
    }
}
