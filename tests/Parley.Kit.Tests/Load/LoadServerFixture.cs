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

namespace Parley.Kit.Tests.Load;

/// <summary>A real stack and one in-process Parley server on a loopback port, for the scenario smoke runs.</summary>
public sealed class LoadServerFixture : IAsyncLifetime
{
    private WebApplication? _app;

    public LocalStack Stack { get; private set; } = null!;

    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions());
        await using (var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString))
            await Migrator.MigrateAsync(source);
        await using (var db = new ParleyDatabase(DataOptions.ForTool(Stack.PrimaryConnectionString)))
            await new AdminRoles(db).GrantAsync("load_admin", holdUntilRegistered: true, CancellationToken.None);
        var settings = new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString,
            ["Parley:Data:ReplicaConnectionString"] = Stack.ReplicaConnectionString,
            ["Parley:Redis:Endpoint"] = Stack.RedisEndpoint,
            ["Parley:Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
            // Smoke runs log in dozens of users; the production cost (100,000) is for real passwords.
            ["Parley:Auth:PasswordHashIterations"] = "1000",
        };
        _app = ParleyApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(settings);
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await _app.StartAsync();
        BaseAddress = new Uri(_app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

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
