using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Npgsql;
using Parley.Data.Migrations;
using Parley.Kit.Stack;
using Parley.Observer.Actions;
using Parley.Observer.Hosting;
using Parley.Observer.Rules;

namespace Parley.Observer.Tests.Infrastructure;

/// <summary>
/// One real stack (PostgreSQL primary with logical decoding, Redis) for the collection. Each test owns an
/// observer group of its own name (its slot, publications, lease and queue rows) and its own tables.
/// </summary>
public sealed class ObserverFixture : IAsyncLifetime
{
    public LocalStack Stack { get; private set; } = null!;

    public NpgsqlDataSource Db { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false, WithSmtp = true });
        Db = NpgsqlDataSource.Create(Stack.PrimaryConnectionString);
        await Migrator.MigrateAsync(Db);
    }

    public async Task DisposeAsync()
    {
        if (Db is not null) await Db.DisposeAsync();
        if (Stack is not null) await Stack.DisposeAsync();
    }

    /// <summary>A fresh group name (also usable in table names).</summary>
    public static string NewName(string prefix = "t") => $"{prefix}{Guid.NewGuid().ToString("N")[..10]}";

    /// <summary>
    /// Starts an observer process of group <paramref name="name"/> in this process with <paramref name="runner"/>
    /// as its only action runner (null: the real runners, email to the stack's SMTP server), and waits until it leads
    /// and reads the slot when <paramref name="waitForStreaming"/>.
    /// </summary>
    public async Task<ObserverNode> StartAsync(
        string name, string rulesYaml, IActionRunner? runner, IReadOnlyDictionary<string, string?>? overrides = null, bool waitForStreaming = true)
    {
        var loaded = RulesFile.Parse(rulesYaml, strict: true);
        Assert.True(loaded.IsValid, string.Join("\n", loaded.Problems.Select(p => p.Format("rules"))));
        var settings = new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString,
            ["Parley:Redis:Endpoint"] = Stack.RedisEndpoint,
            ["Parley:Observer:Name"] = name,
            // Short leases and polls so tests need not wait long; none of them is asserted on.
            ["Parley:Observer:LeaseDuration"] = "00:00:03",
            ["Parley:Observer:LeaseCheckInterval"] = "00:00:00.200",
            ["Parley:Observer:PollInterval"] = "00:00:00.050",
            ["Parley:Observer:HeartbeatInterval"] = "00:00:01",
            ["Parley:Observer:GaugeInterval"] = "00:00:00.200",
            ["Parley:Observer:ClaimGrace"] = "00:00:01",
            ["Parley:Observer:FailFastDelay"] = "00:00:00.100",
            ["Parley:Observer:Smtp:Host"] = "127.0.0.1",
            ["Parley:Observer:Smtp:Port"] = $"{Stack.SmtpPort}",
            ["Parley:Observer:Smtp:From"] = "observer@parley.test",
            // Each test's queue holds its own rules' actions only; the built-in message search has its own test.
            ["Parley:Observer:IndexMessages"] = "false",
        };
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        var app = ObserverHost.Build(["--urls", "http://127.0.0.1:0"], loaded.Rules!, builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            if (runner is null) return;
            builder.Services.RemoveAll<IActionRunner>();
            builder.Services.AddSingleton(runner);
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var node = new ObserverNode(app, new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) });
        if (waitForStreaming) await Wait.For(() => Task.FromResult(node.Identity.Streaming), $"observer {name} to lead and read its slot");
        return node;
    }

    public async Task ExecuteAsync(string sql, params object?[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg ?? DBNull.Value });
        await cmd.ExecuteNonQueryAsync();
    }

    public async Task<T> ScalarAsync<T>(string sql, params object?[] args)
    {
        await using var cmd = Db.CreateCommand(sql);
        foreach (var arg in args) cmd.Parameters.Add(new() { Value = arg ?? DBNull.Value });
        return (T)(await cmd.ExecuteScalarAsync())!;
    }

    /// <summary>The queue rows of a group: (event id, rule, action) → (status, attempts, dead reason, last error).</summary>
    public async Task<List<QueueRow>> QueueAsync(string name)
    {
        await using var cmd = Db.CreateCommand(
            "SELECT event_id, rule, action, status, attempts, dead_reason, last_error FROM observer_actions WHERE observer = $1 ORDER BY id");
        cmd.Parameters.Add(new() { Value = name });
        await using var r = await cmd.ExecuteReaderAsync();
        var rows = new List<QueueRow>();
        while (await r.ReadAsync())
            rows.Add(new QueueRow(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetInt32(4), r.IsDBNull(5) ? null : r.GetString(5), r.IsDBNull(6) ? null : r.GetString(6)));
        return rows;
    }

    /// <summary>The attempts recorded for one action: (attempt, outcome, error).</summary>
    public async Task<List<(int Attempt, string Outcome, string? Error)>> AttemptsAsync(string name, string eventId, string rule, string action)
    {
        await using var cmd = Db.CreateCommand("""
            SELECT t.attempt, t.outcome, t.error FROM observer_attempts t JOIN observer_actions a ON a.id = t.action_id
            WHERE a.observer = $1 AND a.event_id = $2 AND a.rule = $3 AND a.action = $4 ORDER BY t.id
            """);
        foreach (var v in new[] { name, eventId, rule, action }) cmd.Parameters.Add(new() { Value = v });
        await using var r = await cmd.ExecuteReaderAsync();
        var list = new List<(int, string, string?)>();
        while (await r.ReadAsync()) list.Add((r.GetInt32(0), r.GetString(1), r.IsDBNull(2) ? null : r.GetString(2)));
        return list;
    }

    /// <summary>Drops what a group left in the cluster: its slot (the WAL it holds) and publications.</summary>
    public Task DropGroupAsync(string name) => DropGroupAsync(Db, name);

    /// <inheritdoc cref="DropGroupAsync(string)"/>
    public static async Task DropGroupAsync(NpgsqlDataSource db, string name)
    {
        async Task<long> Active()
        {
            await using var cmd = db.CreateCommand("SELECT count(*) FROM pg_replication_slots WHERE slot_name = $1 AND active");
            cmd.Parameters.Add(new() { Value = name });
            return (long)(await cmd.ExecuteScalarAsync())!;
        }
        await Wait.For(async () => await Active() == 0, $"slot {name} to be released");
        await using (var drop = db.CreateCommand("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1"))
        {
            drop.Parameters.Add(new() { Value = name });
            await drop.ExecuteNonQueryAsync();
        }
        await using var publications = db.CreateCommand($"DROP PUBLICATION IF EXISTS \"{name}_outbox\", \"{name}_tables\"");
        await publications.ExecuteNonQueryAsync();
    }
}

/// <summary>One observer process in the test process; disposing stops it (cleanly: the lease is released).</summary>
public sealed class ObserverNode(WebApplication app, HttpClient http) : IAsyncDisposable
{
    public WebApplication App => app;

    public HttpClient Http => http;

    public ObserverIdentity Identity => app.Services.GetRequiredService<ObserverIdentity>();

    public async Task<JsonObject> HealthAsync() => (await http.GetFromJsonAsync<JsonObject>("/health"))!;

    public async ValueTask DisposeAsync()
    {
        http.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

public sealed record QueueRow(string EventId, string Rule, string Action, string Status, int Attempts, string? DeadReason, string? LastError);

[CollectionDefinition(Name)]
public sealed class ObserverCollection : ICollectionFixture<ObserverFixture>
{
    public const string Name = "observer";
}
