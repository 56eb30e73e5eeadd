using System.Net.Http.Json;
using Npgsql;
using Parley.Data.Migrations;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Stack;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Realtime;

/// <summary>A stack of its own (Redis may be stopped by its tests) and helpers to run real server nodes on it.</summary>
public sealed class MultiNodeFixture : IAsyncLifetime
{
    private readonly string _signingKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    public LocalStack Stack { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Stack = await LocalStack.StartAsync(new StackOptions());
        await using var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString);
        await Migrator.MigrateAsync(source);
    }

    public Dictionary<string, string?> Settings(string nodeId) => new()
    {
        ["Parley:Data:PrimaryConnectionString"] = Stack.PrimaryConnectionString,
        ["Parley:Redis:Endpoint"] = Stack.RedisEndpoint,
        ["Parley:Auth:SigningKey"] = _signingKey,
        ["Parley:Auth:PasswordHashIterations"] = "1000",
        ["Parley:Node:Id"] = nodeId,
        // Delivery and Redis connection events, for the failure messages of delivery tests.
        ["Logging:LogLevel:Parley.Server.Delivery"] = "Information",
        ["Logging:LogLevel:Parley.Redis"] = "Information",
    };

    public Task<ParleyNode> StartNodeAsync(string nodeId, IReadOnlyDictionary<string, string?>? overrides = null)
    {
        var settings = Settings(nodeId);
        foreach (var (key, value) in overrides ?? new Dictionary<string, string?>()) settings[key] = value;
        return ParleyNode.StartAsync(nodeId, settings);
    }

    public static ApiClient Client(ParleyNode node) =>
        new(new HttpClient { BaseAddress = node.BaseAddress, Timeout = TimeSpan.FromSeconds(30) });

    public async Task<long> CountAsync(string sql)
    {
        await using var source = NpgsqlDataSource.Create(Stack.PrimaryConnectionString);
        await using var cmd = source.CreateCommand(sql);
        return (long)(await cmd.ExecuteScalarAsync())!;
    }

    public async Task DisposeAsync()
    {
        if (Stack is not null) await Stack.DisposeAsync();
    }
}

/// <summary>
/// Sends messages at a steady rate through a set of nodes, keeping the ids of those accepted. Like a client, it retries
/// a 503 or 429 (after its Retry-After, at most 2 s) or a lost answer with the same clientMessageId, up to 5 attempts.
/// </summary>
public sealed class SteadySender(IReadOnlyList<ApiClient> clients, ApiUser sender, Guid conversation)
{
    private const int Attempts = 5;
    private readonly List<Guid> _created = [];
    private readonly Dictionary<Guid, long> _startedAt = [];
    private int _failures;
    private int _retries;

    public IReadOnlyList<Guid> Created
    {
        get
        {
            lock (_created) return [.. _created];
        }
    }

    /// <summary>Sends not accepted after every attempt (or refused outright).</summary>
    public int Failures => Volatile.Read(ref _failures);

    public int Retries => Volatile.Read(ref _retries);

    /// <summary>The <see cref="System.Diagnostics.Stopwatch"/> timestamp at which the accepted message's first attempt started.</summary>
    public long StartedAt(Guid id)
    {
        lock (_created) return _startedAt[id];
    }

    /// <summary>Sends <paramref name="count"/> messages at <paramref name="perSecond"/>, round-robin over the clients, 8 in flight at most.</summary>
    public async Task RunAsync(int count, int perSecond, Func<int, Task>? onProgress = null)
    {
        var interval = TimeSpan.FromSeconds(1.0 / perSecond);
        var start = DateTime.UtcNow;
        using var gate = new SemaphoreSlim(8);
        var tasks = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            var due = start + (interval * i);
            var delay = due - DateTime.UtcNow;
            if (delay > TimeSpan.Zero) await Task.Delay(delay); // the send rate, not a synchronisation
            await gate.WaitAsync();
            var n = i;
            tasks.Add(Task.Run(async () =>
            {
                try
                {
                    await SendAsync(n);
                }
                finally
                {
                    gate.Release();
                }
            }));
            if (onProgress is not null) await onProgress(n);
        }
        await Task.WhenAll(tasks);
    }

    private async Task SendAsync(int n)
    {
        var startedAt = System.Diagnostics.Stopwatch.GetTimestamp();
        for (var attempt = 0; attempt < Attempts; attempt++)
        {
            if (attempt > 0) Interlocked.Increment(ref _retries);
            var wait = TimeSpan.FromMilliseconds(500);
            try
            {
                var client = clients[(n + attempt) % clients.Count];
                using var response = await client.PostAsync(sender, $"/v1/conversations/{conversation}/messages", new { body = $"steady {n}", clientMessageId = $"s{n}" });
                if (response.StatusCode is System.Net.HttpStatusCode.Created or System.Net.HttpStatusCode.OK)
                {
                    var id = Guid.Parse((await ApiClient.Json(response))["id"]!.GetValue<string>());
                    lock (_created)
                    {
                        _created.Add(id);
                        _startedAt[id] = startedAt;
                    }
                    return;
                }
                if (response.StatusCode is not (System.Net.HttpStatusCode.ServiceUnavailable or System.Net.HttpStatusCode.TooManyRequests)) break;
                if (response.Headers.RetryAfter?.Delta is { } after) wait = after < TimeSpan.FromSeconds(2) ? after : TimeSpan.FromSeconds(2);
            }
            catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
            {
                // No answer: the message may or may not be stored; the same clientMessageId makes the retry safe.
            }
            await Task.Delay(wait); // the client's back-off, bounded by the attempts
        }
        Interlocked.Increment(ref _failures);
    }
}
