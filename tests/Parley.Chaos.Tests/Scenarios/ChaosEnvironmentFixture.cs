using Parley.Kit.Chaos.Scenarios;

namespace Parley.Chaos.Tests.Scenarios;

/// <summary>One stack behind fault proxies for every scenario test; each scenario starts its own nodes and heals the stack.</summary>
public sealed class ChaosEnvironmentFixture : IAsyncLifetime
{
    public ChaosEnvironment Env { get; private set; } = null!;

    public async Task InitializeAsync() => Env = await ChaosEnvironment.StartAsync();

    public async Task DisposeAsync()
    {
        if (Env is not null) await Env.DisposeAsync();
    }
}

[CollectionDefinition(Name)]
public sealed class ChaosCollection : ICollectionFixture<ChaosEnvironmentFixture>
{
    public const string Name = "chaos";
}
