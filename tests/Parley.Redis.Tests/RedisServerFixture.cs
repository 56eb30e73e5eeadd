using Parley.Kit.Stack;

namespace Parley.Redis.Tests;

/// <summary>
/// A real redis-server started by the kit's <see cref="LocalStack"/> (Redis only) on a free loopback
/// port, one per test class that uses it, so killing it in one class does not disturb others.
/// </summary>
public sealed class RedisServerFixture : IAsyncLifetime
{
    private LocalStack? _stack;

    /// <summary><c>127.0.0.1:port</c>.</summary>
    public string Endpoint { get; private set; } = "";

    public async Task InitializeAsync()
    {
        try
        {
            _stack = await LocalStack.StartAsync(new StackOptions
            {
                WithPrimary = false,
                WithReplica = false,
                WithPgBouncer = false,
                WithRedis = true,
            });
        }
        catch (Exception e)
        {
            throw new InvalidOperationException(
                "Could not start redis-server for the Redis integration tests. Install it with `apt-get install -y redis-server` "
                + "(Redis 7), or run only the unit tests with `dotnet test --filter Category=Smoke`.", e);
        }

        Endpoint = _stack.RedisEndpoint ?? throw new InvalidOperationException("LocalStack started without Redis.");
    }

    /// <summary>Options for this server with a key prefix unique to the caller, and test-friendly timeouts.</summary>
    public RedisOptions Options(string? prefix = null) => new()
    {
        Endpoint = Endpoint,
        KeyPrefix = $"test:{prefix ?? "t"}:{Guid.NewGuid():N}:",
        CommandTimeout = TimeSpan.FromSeconds(5),
        ConnectTimeout = TimeSpan.FromSeconds(2),
        ReconnectMinBackoff = TimeSpan.FromMilliseconds(20),
        ReconnectMaxBackoff = TimeSpan.FromMilliseconds(250),
    };

    /// <summary>Kills redis-server with SIGKILL, as a crash would.</summary>
    public Task KillAsync() => _stack!.Redis!.KillAsync();

    /// <summary>Starts redis-server again on the same port and waits until it answers.</summary>
    public Task StartAsync() => _stack!.Redis!.StartAsync();

    public async Task DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }
}
