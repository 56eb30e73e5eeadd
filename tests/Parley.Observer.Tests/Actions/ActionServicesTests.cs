using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Parley.Observer.Actions;
using Parley.Observer.Hosting;

namespace Parley.Observer.Tests.Actions;

[Trait("Category", "Smoke")]
public sealed class ActionServicesTests
{
    [Fact]
    public async Task The_registered_runners_resolve_with_the_host_s_services_and_exactly_one_runs_each_kind_of_action()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Parley:Data:PrimaryConnectionString"] = "Host=127.0.0.1;Port=1;Username=parley;Database=parley",
        }).Build();
        var services = new ServiceCollection().AddSingleton<IConfiguration>(configuration).AddLogging();
        services.AddOptions<ObserverOptions>();
        services.AddSingleton<ObserverDatabase>();
        services.AddObserverActions(configuration);
        await using var provider = services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });

        var runners = provider.GetServices<IActionRunner>().ToList();
        ActionSpec[] specs =
        [
            new WebhookSpec(new Uri("http://127.0.0.1/hook"), Work.NewSecret(), TimeSpan.FromSeconds(1)),
            new EmailSpec(["a@example.com"], "s", "b"),
            new SlackSpec(new Uri("http://127.0.0.1/slack"), "t", TimeSpan.FromSeconds(1)),
            new IndexSpec("orders", "text"),
            MessageIndexSpec.Instance,
        ];

        foreach (var spec in specs)
            Assert.Single(runners, runner => runner.CanRun(spec));
        Assert.Same(provider.GetRequiredService<EmailRunner>(), runners.OfType<EmailRunner>().Single());
    }
}
