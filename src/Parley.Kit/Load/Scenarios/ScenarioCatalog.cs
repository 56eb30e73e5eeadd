namespace Parley.Kit.Load.Scenarios;

/// <summary>Every scenario <c>parley load</c> knows, by name.</summary>
public static class ScenarioCatalog
{
    public static IReadOnlyList<Func<ILoadScenario>> Factories { get; } =
    [
        () => new HistoryScenario(),
        () => new SendScenario(),
        () => new MixedScenario(),
        () => new SpikeScenario(),
        () => new CrudScenario(),
        () => new ParticipantsScenario(),
        () => new LargePayloadScenario(),
        () => new LoginScenario(),
        () => new WebSocketScenario(),
        () => new SoakScenario(),
        () => new ConversationsScenario(),
        () => new LongevityScenario(),
        () => new GetScenario(),
    ];

    public static IReadOnlyList<string> Names { get; } = Factories.Select(f => f().Name).ToList();

    public static ILoadScenario Create(string name) =>
        Factories.Select(f => f()).FirstOrDefault(s => s.Name == name)
        ?? throw new Engine.LoadConfigurationException($"no scenario '{name}': choose one of {string.Join(", ", Names)}.");
}
