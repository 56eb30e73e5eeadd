using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Stack;
using Parley.Observer.Tests.Infrastructure;

namespace Parley.Observer.Tests.Failover;

/// <summary>The chaos kit's observer nodes run as <c>parley up --observer</c>'s do: with <see cref="ObserverRuntime.Defaults"/>.</summary>
[Trait("Category", "Integration")]
[Collection(ObserverCollection.Name)]
public sealed class ObserverNodeTests(ObserverFixture fx)
{
    [Fact]
    public async Task An_observer_node_runs_with_the_observer_runtime_settings()
    {
        var name = ObserverFixture.NewName("n");
        var rules = Path.Combine(Path.GetTempPath(), $"{name}.yaml");
        await File.WriteAllTextAsync(rules, """
            rules:
              - name: messages
                source: parley
                on: [message.created]
                actions:
                  - name: idx
                    index: { name: node_test, text: "{{data.message.body}}" }
            """);
        try
        {
            await using var node = await ParleyNode.StartObserverAsync(name, rules, new Dictionary<string, string?>
            {
                ["Parley:Data:PrimaryConnectionString"] = fx.Stack.PrimaryConnectionString,
                ["Parley:Redis:Endpoint"] = fx.Stack.RedisEndpoint,
                ["Parley:Observer:Name"] = name,
                ["Parley:Observer:IndexMessages"] = "false",
            });
            var environment = (await File.ReadAllTextAsync($"/proc/{node.Pid}/environ")).Split('\0');
            Assert.All(ObserverRuntime.Defaults, d => Assert.Contains($"{d.Key}={d.Value}", environment));
        }
        finally
        {
            File.Delete(rules);
            await fx.DropGroupAsync(name);
        }
    }
}
