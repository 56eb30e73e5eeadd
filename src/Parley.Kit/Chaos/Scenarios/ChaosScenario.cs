namespace Parley.Kit.Chaos.Scenarios;

/// <summary>A named chaos scenario: drives real traffic through a fault, removes it, measures, and checks the invariants.</summary>
public abstract class ChaosScenario
{
    /// <summary>The CLI name: <c>parley chaos &lt;name&gt;</c>.</summary>
    public abstract string Name { get; }

    public abstract string Description { get; }

    /// <summary>Short enough (≈ 20 s) for the CI smoke set.</summary>
    public virtual bool Smoke => true;

    public abstract Task<ScenarioResult> RunAsync(ChaosEnvironment env, CancellationToken ct = default);

    public override string ToString() => Name;
}
