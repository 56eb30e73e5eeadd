using System.Net.Http.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Parley.Data;
using Parley.Data.Migrations;
using Parley.Data.Users;
using Parley.Kit.Stack;
using Parley.Server;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>
/// One real stack (PostgreSQL primary + replica, PgBouncer, Redis) and one Parley server on a
/// loopback port for a test collection. Tests isolate themselves by registering their own users.
/// </summary>
public sealed class ParleyFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public const string AdminHandle = "fixture_admin";

    public LocalStack Stack { get; private set; } = null!;

    public IServiceProvider Services => _app!.Services;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Settings the server runs with; a test class may read them.</summary>
    public Dictionary<string, string?> Settings { get; } = new();

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions());
        await using (var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString))
            await Migrator.MigrateAsync(source);
        await using (var db = new ParleyDatabase(DataOptions.ForTool(Stack.PrimaryConnectionString)))
            await new AdminRoles(db).GrantAsync(AdminHandle, holdUntilRegistered: true, CancellationToken.None);

        Settings["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString;
        Settings["Parley:Data:ReplicaConnectionString"] = Stack.ReplicaConnectionString;
        Settings["Parley:Redis:Endpoint"] = Stack.RedisEndpoint;
        Settings["Parley:Monitoring:PgBouncerAdminConnectionString"] = new NpgsqlConnectionStringBuilder(Stack.PgBouncerConnectionString) { Database = "pgbouncer" }.ConnectionString;
        Settings["Parley:Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        // Tests register hundreds of users; the production default (100,000) is for real passwords.
        Settings["Parley:Auth:PasswordHashIterations"] = "1000";
        Settings["Parley:Auth:FailedLoginsPerHandle"] = "5";
        // A tight lag bound and a fast probe so breaker tests need not wait long.
        Settings["Parley:Data:Replica:MaxLagSeconds"] = "1";
        Settings["Parley:Data:Replica:ProbeIntervalSeconds"] = "0.25";
        Settings["Parley:Data:Replica:BreakSeconds"] = "1";
        (_app, BaseAddress) = await StartNodeAsync();
    }

    /// <summary>Starts another in-process server node on the same stack and settings; the caller disposes it.</summary>
    public async Task<(WebApplication App, Uri BaseAddress)> StartNodeAsync(
        IReadOnlyDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null)
    {
        var settings = new Dictionary<string, string?>(Settings);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        var app = ParleyApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            configure?.Invoke(builder);
        });
        try
        {
            await app.StartAsync();
        }
        catch
        {
            // A node that refused to start (a test of that) must not leave its pools and meters behind in this process.
            await app.DisposeAsync();
            throw;
        }
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return (app, new Uri(address));
    }

    /// <summary>A node of its own with a client, for a test that spends per-node state (login budgets, hash slots).</summary>
    public async Task<OwnNode> StartOwnNodeAsync(IReadOnlyDictionary<string, string?>? overrides = null, Action<WebApplicationBuilder>? configure = null)
    {
        var (app, address) = await StartNodeAsync(overrides, configure);
        return new OwnNode(app, new ApiClient(new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(60) }));
    }

    /// <summary>The administrator (its grant held in the database since start), registered on first use.</summary>
    public async Task<ApiUser> AdminAsync(ApiClient api)
    {
        var register = await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle = AdminHandle, password = "admin password" });
        Assert.True(register.StatusCode is System.Net.HttpStatusCode.Created or System.Net.HttpStatusCode.Conflict);
        var login = await ApiClient.Json(await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle = AdminHandle, password = "admin password" }));
        return new ApiUser(Guid.Parse(login["userId"]!.GetValue<string>()), AdminHandle, login["accessToken"]!.GetValue<string>());
    }

    public ApiClient Client() => new(new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) });

    public NpgsqlDataSource OpenPrimary() => NpgsqlDataSource.Create(Stack.PrimaryConnectionString);

    public async Task DisposeAsync()
    {
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        if (Stack is not null) await Stack.DisposeAsync();
    }
}

/// <summary>A node started for one test; disposing stops it.</summary>
public sealed class OwnNode(WebApplication app, ApiClient api) : IAsyncDisposable
{
    public ApiClient Api => api;

    public WebApplication App => app;

    public async ValueTask DisposeAsync()
    {
        api.Dispose();
        await app.StopAsync();
        await app.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ParleyCollection : ICollectionFixture<ParleyFixture>
{
    public const string Name = "parley";
}
