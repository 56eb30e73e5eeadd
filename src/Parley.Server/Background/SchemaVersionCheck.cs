using Npgsql;
using Parley.Data;
using Parley.Data.Migrations;

namespace Parley.Server.Background;

/// <summary>
/// Refuses to start a node on a schema other than the one this build was written for: a newer one (a downgrade)
/// or an older one (not migrated yet) would fail query by query instead of once, with a message that says what to
/// do. A primary that cannot be asked at start is an outage, not a mismatch: the node starts and answers 503 until
/// the primary is back.
/// </summary>
public sealed partial class SchemaVersionCheck(ParleyDatabase db, ILogger<SchemaVersionCheck> logger) : IHostedService
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(AskTimeout);
        int version;
        try
        {
            version = await Migrator.CurrentVersionAsync(db.Primary, bounded.Token);
        }
        catch (Exception e) when (e is NpgsqlException or OperationCanceledException or TimeoutException && !cancellationToken.IsCancellationRequested)
        {
            LogUnchecked(logger, e.Message);
            return;
        }
        if (version == Migrator.LatestVersion) return;
        var message = version > Migrator.LatestVersion
            ? $"The database schema is at version {version}, newer than this build knows ({Migrator.LatestVersion}); run a newer Parley."
            : $"The database schema is at version {version}, older than this build needs ({Migrator.LatestVersion}); run `parley migrate` first.";
        LogMismatch(logger, message);
        throw new MigrationException(message);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(EventId = 1103, Level = LogLevel.Critical, Message = "Not starting: {Message}")]
    private static partial void LogMismatch(ILogger logger, string message);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Warning, Message = "The schema version could not be checked at start (the primary did not answer: {Error}); starting, and answering 503 until it does")]
    private static partial void LogUnchecked(ILogger logger, string error);
}
