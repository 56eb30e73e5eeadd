using Parley.Kit.Stack;

namespace Parley.Kit.Tests.Stack;

/// <summary>One full stack (primary, replica, PgBouncer, Redis) shared by the read-only tests.</summary>
public sealed class FullStackFixture : IAsyncLifetime
{
    private LocalStack? _stack;

    public LocalStack Stack => _stack ?? throw new InvalidOperationException("The fixture has not started.");

    public async Task InitializeAsync() => _stack = await LocalStack.StartAsync(new StackOptions());

    public async Task DisposeAsync()
    {
        if (_stack is not null)
            await _stack.StopAsync();
    }
}
