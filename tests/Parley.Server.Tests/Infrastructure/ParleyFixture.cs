using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using Parley.Data.Migrations;
using Parley.Kit.Stack;
using Parley.Server;

namespace Parley.Server.Tests.Infrastructure;

/// <summary>
/// One real stack (PostgreSQL primary + replica, PgBouncer, Redis) and one Parley server on a
/// loopback port for a test collection. Tests isolate themselves by registering their own users.
/// </summary>
public sealed class ParleyFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public LocalStack Stack { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>Settings the server runs with; a test class may read them.</summary>
    public Dictionary<string, string?> Settings { get; } = new();

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions());
        await using (var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString))
            await Migrator.MigrateAsync(source);

        Settings["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString;
        Settings["Parley:Data:ReplicaConnectionString"] = Stack.ReplicaConnectionString;
        Settings["Parley:Redis:Endpoint"] = Stack.RedisEndpoint;
        Settings["Parley:Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        // Tests register hundreds of users; the production default (100,000) is for real passwords.
        Settings["Parley:Auth:PasswordHashIterations"] = "1000";
        Settings["Parley:Auth:FailedLoginsPerHandle"] = "5";
        _app = ParleyApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(Settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
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

[CollectionDefinition(Name)]
public sealed class ParleyCollection : ICollectionFixture<ParleyFixture>
{
    public const string Name = "parley";
}
