namespace Parley.Observer.Tests.Infrastructure;

/// <summary>A test that owns an observer group, a runner and a table of its own (created before, dropped after, with the group's slot).</summary>
public abstract class ObserverTest(ObserverFixture fx, string tablePrefix, string columns) : IAsyncLifetime
{
    protected ObserverFixture Fx => fx;

    protected string Name { get; } = ObserverFixture.NewName();

    protected TestRunner Runner { get; } = new();

    protected string Table => $"{tablePrefix}_{Name}";

    public virtual Task InitializeAsync() => fx.ExecuteAsync($"CREATE TABLE {Table} ({columns})");

    public virtual async Task DisposeAsync()
    {
        await fx.DropGroupAsync(Name);
        await fx.ExecuteAsync($"DROP TABLE {Table}");
    }
}
