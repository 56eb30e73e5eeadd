using Npgsql;
using Parley.Kit.Chaos.Proxy;
using Parley.Kit.Stack;

namespace Parley.Kit.Chaos;

/// <summary>
/// A <see cref="FaultProxy"/> in front of each server of a <see cref="LocalStack"/> (primary, replica, PgBouncer, Redis),
/// with connection strings that go through them. Point Parley at these and switch faults on the proxies at runtime;
/// process faults go to the components themselves (<see cref="LocalStack.Primary"/>.KillAsync, ...).
/// </summary>
public sealed class ChaosStack : IAsyncDisposable
{
    private readonly Dictionary<StackComponentKind, FaultProxy> _proxies;
    private readonly bool _ownsStack;

    private ChaosStack(LocalStack stack, Dictionary<StackComponentKind, FaultProxy> proxies, bool ownsStack)
    {
        Stack = stack;
        _proxies = proxies;
        _ownsStack = ownsStack;
    }

    public LocalStack Stack { get; }

    public IReadOnlyCollection<FaultProxy> Proxies => _proxies.Values;

    public FaultProxy Primary => Proxy(StackComponentKind.Primary);

    public FaultProxy? Replica => _proxies.GetValueOrDefault(StackComponentKind.Replica);

    public FaultProxy? PgBouncer => _proxies.GetValueOrDefault(StackComponentKind.PgBouncer);

    public FaultProxy? Redis => _proxies.GetValueOrDefault(StackComponentKind.Redis);

    /// <summary>The primary through its proxy.</summary>
    public string PrimaryConnectionString => Through(Stack.PrimaryConnectionString, Primary);

    /// <summary>The replica through its proxy, or null without a replica.</summary>
    public string? ReplicaConnectionString => Replica is { } proxy ? Through(Stack.ReplicaConnectionString!, proxy) : null;

    /// <summary>PgBouncer through its proxy (transaction-pooling settings kept), or null without PgBouncer.</summary>
    public string? PgBouncerConnectionString => PgBouncer is { } proxy ? Through(Stack.PgBouncerConnectionString!, proxy) : null;

    /// <summary><c>127.0.0.1:port</c> of the Redis proxy, or null without Redis.</summary>
    public string? RedisEndpoint => Redis?.Endpoint;

    /// <summary>Starts a proxy for every running component of <paramref name="stack"/>; <paramref name="ownsStack"/>: dispose stops the stack too.</summary>
    public static ChaosStack Create(LocalStack stack, bool ownsStack = false)
    {
        ArgumentNullException.ThrowIfNull(stack);
        var proxies = new Dictionary<StackComponentKind, FaultProxy>();
        try
        {
            foreach (var component in stack.Components)
                proxies[component.Kind] = FaultProxy.Start(component.Name, component.Port);
        }
        catch
        {
            foreach (var proxy in proxies.Values) proxy.DisposeAsync().AsTask().GetAwaiter().GetResult();
            throw;
        }
        return new ChaosStack(stack, proxies, ownsStack);
    }

    /// <summary>Starts a stack with <paramref name="options"/> and proxies in front of it; disposing stops both.</summary>
    public static async Task<ChaosStack> StartAsync(StackOptions? options = null, IProgress<string>? progress = null, CancellationToken ct = default)
    {
        var stack = await LocalStack.StartAsync(options ?? new StackOptions(), progress, ct).ConfigureAwait(false);
        try
        {
            return Create(stack, ownsStack: true);
        }
        catch
        {
            await stack.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public FaultProxy Proxy(StackComponentKind kind) =>
        _proxies.TryGetValue(kind, out var proxy) ? proxy : throw new InvalidOperationException($"The stack has no {kind}.");

    /// <summary>Clears every proxy's faults and brings every proxy up.</summary>
    public void ClearFaults()
    {
        foreach (var proxy in _proxies.Values)
        {
            proxy.Clear();
            proxy.SetDown(false);
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var proxy in _proxies.Values)
            await proxy.DisposeAsync().ConfigureAwait(false);
        if (_ownsStack)
            await Stack.DisposeAsync().ConfigureAwait(false);
    }

    internal static string Through(string connectionString, FaultProxy proxy) =>
        new NpgsqlConnectionStringBuilder(connectionString) { Host = "127.0.0.1", Port = proxy.Port }.ConnectionString;
}
