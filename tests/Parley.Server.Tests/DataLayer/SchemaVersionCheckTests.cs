using Npgsql;
using Parley.Data.Migrations;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.DataLayer;

/// <summary>
/// A node refuses to start on a schema newer than this build knows (a downgrade) or older than it needs (not
/// migrated), with a message that says what to do; a primary that does not answer at start is an outage, and the
/// node starts anyway.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class SchemaVersionCheckTests(ParleyFixture fixture)
{
    [Theory]
    [InlineData(1, "newer than this build knows")]
    [InlineData(-1, "run `parley migrate` first")]
    public async Task A_node_refuses_a_schema_other_than_its_own(int offset, string says)
    {
        var database = $"schema_check_{Guid.NewGuid():N}";
        await using var admin = NpgsqlDataSource.Create(fixture.Stack.PrimaryConnectionString);
        await using (var create = admin.CreateCommand($"CREATE DATABASE {database}")) await create.ExecuteNonQueryAsync();
        try
        {
            var connection = new NpgsqlConnectionStringBuilder(fixture.Stack.PrimaryConnectionString) { Database = database, Pooling = false }.ConnectionString;
            await using (var source = NpgsqlDataSource.Create(connection))
            {
                await Migrator.MigrateAsync(source);
                await using var shift = source.CreateCommand(offset > 0
                    ? $"INSERT INTO schema_version (version, name) VALUES ({Migrator.LatestVersion + 1}, 'from_the_future')"
                    : $"DELETE FROM schema_version WHERE version = {Migrator.LatestVersion}");
                await shift.ExecuteNonQueryAsync();
            }

            var refused = await Assert.ThrowsAsync<MigrationException>(() =>
                fixture.StartNodeAsync(new Dictionary<string, string?> { ["Parley:Data:PrimaryConnectionString"] = connection }));
            Assert.Contains(says, refused.Message);
            Assert.Contains($"version {Migrator.LatestVersion + offset}", refused.Message);
        }
        finally
        {
            await using var drop = admin.CreateCommand($"DROP DATABASE {database} WITH (FORCE)");
            await drop.ExecuteNonQueryAsync();
        }
    }

    [Fact]
    public async Task A_node_starts_when_the_primary_does_not_answer_at_start()
    {
        var (app, _) = await fixture.StartNodeAsync(new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = "Host=127.0.0.1;Port=1;Username=parley;Database=parley;Timeout=2",
        });
        await app.StopAsync();
        await app.DisposeAsync();
    }
}
