using System.Text.Json;
using Npgsql;
using Parley.Kit.Stack;

namespace Parley.Cli.Tests;

/// <summary><c>parley migrate</c>, <c>flags</c>, <c>admin</c> and <c>dlq</c> against a real PostgreSQL, with --connection.</summary>
[Trait("Category", "Integration")]
public sealed class DatabaseCommandsTests : IAsyncLifetime
{
    private LocalStack _stack = null!;

    private string Connection => _stack.PrimaryConnectionString;

    public async Task InitializeAsync()
    {
        _stack = await MigratedPrimary.StartAsync();
    }

    public async Task DisposeAsync() => await _stack.DisposeAsync();

    [Fact]
    public async Task Flags_set_then_list_shows_the_flag_and_bad_input_is_a_usage_error()
    {
        var set = await CliRun.InProcessAsync("flags", "set", "message.history.replica.enabled", "on", "--percentage", "25", "--connection", Connection);
        Assert.True(set.ExitCode == ExitCodes.Ok, set.ToString());
        Assert.Contains("on for 25% of users", set.Out);

        var list = await CliRun.InProcessAsync("--json", "flags", "list", "--connection", Connection);
        Assert.True(list.ExitCode == ExitCodes.Ok, list.ToString());
        var item = JsonDocument.Parse(list.Out).RootElement.GetProperty("items")[0];
        Assert.Equal("message.history.replica.enabled", item.GetProperty("name").GetString());
        Assert.Equal(25, item.GetProperty("percentage").GetInt32());

        Assert.Equal(ExitCodes.Usage, (await CliRun.InProcessAsync("flags", "set", "x", "maybe", "--connection", Connection)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await CliRun.InProcessAsync("flags", "set", "x", "on", "-p", "101", "--connection", Connection)).ExitCode);
        Assert.Equal(ExitCodes.Usage, (await CliRun.InProcessAsync("flags", "set", "Bad Name", "on", "--connection", Connection)).ExitCode);
    }

    [Fact]
    public async Task Dlq_lists_shows_retries_into_the_outbox_and_purges()
    {
        await using (var source = NpgsqlDataSource.Create(Connection))
        await using (var cmd = source.CreateCommand("""
            INSERT INTO dead_letters (outbox_id, conversation_id, type, payload, created_at, attempts, last_error)
            VALUES (1, gen_random_uuid(), 'message.created', '{}', now(), 25, 'RedisConnectionException: down'),
                   (2, gen_random_uuid(), 'message.created', '{}', now(), 25, 'RedisConnectionException: down')
            """))
            await cmd.ExecuteNonQueryAsync();

        var list = await CliRun.InProcessAsync("--json", "dlq", "list", "--connection", Connection);
        Assert.True(list.ExitCode == ExitCodes.Ok, list.ToString());
        var items = JsonDocument.Parse(list.Out).RootElement.GetProperty("items");
        Assert.Equal(2, items.GetArrayLength());
        var first = items[0].GetProperty("id").GetInt64();

        var show = await CliRun.InProcessAsync("dlq", "show", first.ToString(System.Globalization.CultureInfo.InvariantCulture), "--connection", Connection);
        Assert.Contains("RedisConnectionException: down", show.Out);

        Assert.Equal(ExitCodes.Usage, (await CliRun.InProcessAsync("dlq", "retry", "--connection", Connection)).ExitCode);
        var retry = await CliRun.InProcessAsync("dlq", "retry", first.ToString(System.Globalization.CultureInfo.InvariantCulture), "--connection", Connection);
        Assert.True(retry.ExitCode == ExitCodes.Ok, retry.ToString());
        Assert.Contains("retry: 1 dead letter.", retry.Out);
        var purge = await CliRun.InProcessAsync("dlq", "purge", "--all", "--connection", Connection);
        Assert.Contains("purge: 1 dead letter.", purge.Out);

        await using var check = NpgsqlDataSource.Create(Connection);
        await using var count = check.CreateCommand("SELECT (SELECT count(*) FROM dead_letters), (SELECT count(*) FROM outbox WHERE dispatched_at IS NULL)");
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        Assert.Equal(0, reader.GetInt64(0));
        Assert.Equal(1, reader.GetInt64(1));
    }

    [Fact]
    public async Task Admin_grant_and_revoke_set_the_role_of_a_registered_user_only()
    {
        await using var source = NpgsqlDataSource.Create(Connection);
        await using (var insert = source.CreateCommand(
            "INSERT INTO users (id, handle, display_name, password_hash, created_at) VALUES (gen_random_uuid(), 'cli_admin', 'a', 'x', now())"))
            await insert.ExecuteNonQueryAsync();

        var grant = await CliRun.InProcessAsync("admin", "grant", "cli_admin", "--connection", Connection);
        Assert.True(grant.ExitCode == ExitCodes.Ok, grant.ToString());
        Assert.True(await IsAdminAsync(source, "cli_admin"));

        var unknown = await CliRun.InProcessAsync("admin", "grant", "nobody_here", "--connection", Connection);
        Assert.Equal(ExitCodes.Failure, unknown.ExitCode);
        Assert.Contains("no user 'nobody_here'", unknown.Err);

        var revoke = await CliRun.InProcessAsync("--json", "admin", "revoke", "cli_admin", "--connection", Connection);
        Assert.True(revoke.ExitCode == ExitCodes.Ok, revoke.ToString());
        Assert.False(JsonDocument.Parse(revoke.Out).RootElement.GetProperty("admin").GetBoolean());
        Assert.False(await IsAdminAsync(source, "cli_admin"));
    }

    private static async Task<bool> IsAdminAsync(NpgsqlDataSource source, string handle)
    {
        await using var cmd = source.CreateCommand("SELECT is_admin FROM users WHERE handle = $1");
        cmd.Parameters.Add(new() { Value = handle });
        return await cmd.ExecuteScalarAsync() is true;
    }
}
