using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using Parley.Data;
using Parley.Data.Migrations;
using Parley.Data.Search;
using Parley.Kit.Stack;
using Parley.Observer.Actions;
using Parley.Observer.Events;
using Parley.Server;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Observer.Tests.Actions;

/// <summary>
/// A real stack (primary and Redis), a Parley server on a loopback port, and the index runner writing to the same
/// database, as the observer does. Tests own their users, conversations and search words.
/// </summary>
public sealed class SearchFixture : IAsyncLifetime
{
    private WebApplication _app = null!;

    public LocalStack Stack { get; private set; } = null!;

    public ParleyDatabase Database { get; private set; } = null!;

    public SearchStore Store { get; private set; } = null!;

    public IndexRunner Runner { get; private set; } = null!;

    public ApiClient Api { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions { WithReplica = false, WithPgBouncer = false });
        await using (var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString))
            await Migrator.MigrateAsync(source);
        Database = new ParleyDatabase(DataOptions.ForTool(Stack.PrimaryConnectionString));
        Store = new SearchStore(Database.Primary);
        Runner = new IndexRunner(Store, NullLogger<IndexRunner>.Instance);
        _app = ParleyApp.Build(["--urls", "http://127.0.0.1:0"], builder =>
        {
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString,
                ["Parley:Redis:Endpoint"] = Stack.RedisEndpoint,
                ["Parley:Auth:SigningKey"] = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)),
                ["Parley:Auth:PasswordHashIterations"] = "1000",
            });
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
        });
        await _app.StartAsync();
        var address = _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Api = new ApiClient(new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromSeconds(30) });
    }

    /// <summary>A word no other test uses, so a search sees only what this test wrote.</summary>
    public static string UniqueWord() => "w" + Guid.NewGuid().ToString("N")[..12];

    /// <summary>Sends a message over the API and indexes its <c>message.created</c> event as the observer would.</summary>
    public async Task<Guid> SendIndexedAsync(ApiUser sender, Guid conversation, string body)
    {
        var message = await Api.SendMessageAsync(sender, conversation, body);
        var result = await Runner.RunAsync(Event("message.created", conversation, message), CancellationToken.None);
        Assert.Equal(ActionOutcome.Succeeded, result.Outcome);
        return Guid.Parse((string)message["id"]!);
    }

    /// <summary>A Parley event with OBSERVER.md's data (<c>conversationId</c>, and <c>message</c> for message.created), as the built-in rule's work.</summary>
    public static ActionWork Event(string type, Guid conversation, JsonObject? message = null)
    {
        var data = new JsonObject { ["conversationId"] = conversation.ToString() };
        if (message is not null)
            data["message"] = message.DeepClone();
        var e = new ObserverEvent($"0/{Guid.NewGuid():N}", ObserverEvent.ParleySource, type, DateTimeOffset.UtcNow, data);
        return new ActionWork(e, MessageIndexSpec.Rule, MessageIndexSpec.Action, MessageIndexSpec.Instance, 1);
    }

    /// <summary>How many documents of this conversation the index holds.</summary>
    public async Task<long> IndexedAsync(Guid conversation)
    {
        await using var cmd = Database.Primary.CreateCommand("SELECT count(*) FROM search_documents WHERE conversation_id = $1");
        cmd.Parameters.Add(new() { Value = conversation });
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        Api?.Dispose();
        if (_app is not null)
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
        if (Database is not null) await Database.DisposeAsync();
        if (Stack is not null) await Stack.DisposeAsync();
    }
}
