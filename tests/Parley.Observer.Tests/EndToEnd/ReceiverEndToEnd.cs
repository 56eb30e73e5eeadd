using Parley.Observer.Tests.Actions;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.EndToEnd;

/// <summary>
/// An end-to-end test with the real runners: an observer group and an <c>orders_&lt;group&gt;</c> table of its own, a
/// real HTTP receiver, and the CLI pointed at the group. Disposing drops the group, the table and the receiver.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public abstract class ReceiverEndToEnd(ObserverFixture fx, string prefix, string columns) : IAsyncLifetime
{
    private protected ObserverFixture Fx => fx;

    private protected string Name { get; } = ObserverFixture.NewName(prefix);

    private protected Receiver Receiver { get; private set; } = null!;

    private protected string Table => $"orders_{Name}";

    private protected ObserverCli Cli => new(fx.Stack.PrimaryConnectionString, Name);

    public async Task InitializeAsync()
    {
        Receiver = await Receiver.StartAsync();
        await fx.ExecuteAsync($"CREATE TABLE {Table} (id serial PRIMARY KEY, {columns})");
    }

    public virtual async Task DisposeAsync()
    {
        await fx.DropGroupAsync(Name);
        await fx.ExecuteAsync($"DROP TABLE {Table}");
        await Receiver.DisposeAsync();
    }
}
