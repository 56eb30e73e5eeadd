using Npgsql;
using Parley.Data.Migrations;
using Parley.Kit.Stack;

namespace Parley.Data.Tests.Chaos;

/// <summary>
/// One PostgreSQL for the database chaos tests, with a migrated template database: each test takes a
/// database of its own (a copy of the template, or an empty one) and drops it after, so it owns
/// everything it asserts on.
/// </summary>
public sealed class ChaosPostgres : IAsyncLifetime
{
    private const string Template = "parley_template";

    public LocalStack Stack { get; private set; } = null!;

    private NpgsqlDataSource _admin = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false, WithRedis = false });
        _admin = NpgsqlDataSource.Create(Stack.PrimaryConnectionString);
        await ExecuteAsync(_admin, $"CREATE DATABASE {Template}");
        await using var template = NpgsqlDataSource.Create(ConnectionString(Template));
        await Migrator.MigrateAsync(template);
    }

    public async Task DisposeAsync()
    {
        await _admin.DisposeAsync();
        await Stack.DisposeAsync();
    }

    /// <summary>A database of the test's own, migrated to the latest version (or empty).</summary>
    public async Task<TestDatabase> CreateDatabaseAsync(bool migrated = true)
    {
        var name = "chaos_" + Guid.NewGuid().ToString("N")[..12];
        await ExecuteAsync(_admin, migrated ? $"CREATE DATABASE {name} TEMPLATE {Template}" : $"CREATE DATABASE {name}");
        return new TestDatabase(this, name, ConnectionString(name));
    }

    internal async Task DropAsync(string name)
    {
        await ExecuteAsync(_admin, $"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = '{name}' OR slot_name LIKE '{name}%'");
        await ExecuteAsync(_admin, $"DROP DATABASE IF EXISTS {name} WITH (FORCE)");
    }

    private string ConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(Stack.PrimaryConnectionString) { Database = database }.ConnectionString;

    public static async Task ExecuteAsync(NpgsqlDataSource source, string sql)
    {
        await using var cmd = source.CreateCommand(sql);
        await cmd.ExecuteNonQueryAsync();
    }
}

/// <summary>A database one test owns; dropped (with its replication slots) on dispose.</summary>
public sealed class TestDatabase(ChaosPostgres server, string name, string connectionString) : IAsyncDisposable
{
    public string Name { get; } = name;

    public string ConnectionString { get; } = connectionString;

    public NpgsqlDataSource Source { get; } = NpgsqlDataSource.Create(connectionString);

    public Task ExecuteAsync(string sql) => ChaosPostgres.ExecuteAsync(Source, sql);

    public async Task<T> ScalarAsync<T>(string sql)
    {
        await using var cmd = Source.CreateCommand(sql);
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        await Source.DisposeAsync();
        await server.DropAsync(Name);
    }
}

[CollectionDefinition(Name)]
public sealed class ChaosPostgresCollection : ICollectionFixture<ChaosPostgres>
{
    public const string Name = "chaos postgres";
}
