using System.Text.Json;
using Npgsql;
using Parley.Kit.Stack;

namespace Parley.Cli.Tests;

/// <summary><c>parley doctor</c> and <c>parley migrate</c>'s refusals against a real PostgreSQL (seed 004: corruption, migration).</summary>
[Trait("Category", "Chaos")]
[Trait("Tier", "Smoke")]
public sealed class DoctorCommandTests : IAsyncLifetime
{
    private LocalStack _stack = null!;

    private string Connection => _stack.PrimaryConnectionString;

    public async Task InitializeAsync() => _stack = await MigratedPrimary.StartAsync();

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    [Trait("Kind", "corruption")]
    public async Task Doctor_says_OK_names_a_dropped_index_with_its_repair_in_text_and_json_and_is_OK_after_the_repair()
    {
        var clean = await CliRun.InProcessAsync("doctor", "--connection", Connection);
        Assert.True(clean.ExitCode == ExitCodes.Ok, clean.ToString());
        Assert.Contains("OK: schema public at version", clean.Out, StringComparison.Ordinal);

        await ExecuteAsync("DROP INDEX idx_outbox_undispatched");
        var text = await CliRun.InProcessAsync("doctor", "--connection", Connection);
        Assert.True(text.ExitCode == ExitCodes.Drift, text.ToString());
        Assert.Contains("index idx_outbox_undispatched: missing", text.Out, StringComparison.Ordinal);
        const string repair = "CREATE INDEX CONCURRENTLY idx_outbox_undispatched ON outbox USING btree (id) WHERE (dispatched_at IS NULL)";
        Assert.Contains($"    repair: {repair};", text.Out, StringComparison.Ordinal);
        Assert.Contains("1 difference in schema public", text.Out, StringComparison.Ordinal);

        var json = await CliRun.InProcessAsync("--json", "doctor", "--connection", Connection);
        Assert.Equal(ExitCodes.Drift, json.ExitCode);
        var root = JsonDocument.Parse(json.Out).RootElement;
        Assert.False(root.GetProperty("ok").GetBoolean());
        var finding = Assert.Single(root.GetProperty("findings").EnumerateArray());
        Assert.Equal("idx_outbox_undispatched", finding.GetProperty("subject").GetString());
        Assert.Equal(repair, finding.GetProperty("repair")[0].GetString());

        await ExecuteAsync(repair);
        Assert.Equal(ExitCodes.Ok, (await CliRun.InProcessAsync("doctor", "--connection", Connection)).ExitCode);
    }

    [Fact]
    [Trait("Kind", "migration")]
    public async Task Migrate_refuses_a_schema_newer_than_it_knows_with_a_clear_message_and_changes_nothing()
    {
        await ExecuteAsync("INSERT INTO schema_version (version, name) VALUES (999, 'from_the_future')");
        var migrate = await CliRun.InProcessAsync("migrate", "--connection", Connection);
        Assert.True(migrate.ExitCode == ExitCodes.Failure, migrate.ToString());
        Assert.Contains("migration failed: The database schema is at version 999, newer than this build knows", migrate.Err, StringComparison.Ordinal);

        var doctor = await CliRun.InProcessAsync("doctor", "--connection", Connection);
        Assert.Equal(ExitCodes.Drift, doctor.ExitCode);
        Assert.Contains("newer than this build knows", doctor.Out, StringComparison.Ordinal);
    }

    private async Task ExecuteAsync(string sql)
    {
        await using var source = NpgsqlDataSource.Create(Connection);
        await using var cmd = source.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }
}
