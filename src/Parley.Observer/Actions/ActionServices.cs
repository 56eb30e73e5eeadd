using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Parley.Data.Search;
using Parley.Observer.Hosting;

namespace Parley.Observer.Actions;

public static class ActionServices
{
    /// <summary>
    /// Registers the action runners as <see cref="IActionRunner"/> (pick one with <see cref="IActionRunner.CanRun"/>),
    /// the per-endpoint breakers (<see cref="EndpointBreakers"/>, for status and metrics), <see cref="EmailRunner"/> by itself
    /// too (its <see cref="EmailRunner.CheckReachableAsync"/> serves config check), <see cref="SearchStore"/> (over
    /// <see cref="ObserverDatabase"/>, which the host registers) and the options they read.
    /// </summary>
    public static IServiceCollection AddObserverActions(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<BreakerOptions>().Bind(configuration.GetSection(BreakerOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<SmtpOptions>().Bind(configuration.GetSection(SmtpOptions.Section)).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddMetrics();
        services.AddSingleton<EndpointBreakers>();
        services.AddSingleton<HttpActionSender>();
        services.AddSingleton<IActionRunner, WebhookRunner>();
        services.AddSingleton<IActionRunner, SlackRunner>();
        services.AddSingleton<EmailRunner>();
        services.AddSingleton<IActionRunner>(sp => sp.GetRequiredService<EmailRunner>());
        // The index is written over the observer's own connection to the primary.
        services.TryAddSingleton(sp => new SearchStore(sp.GetRequiredService<ObserverDatabase>().Source));
        services.AddSingleton<IActionRunner, IndexRunner>();
        return services;
    }
}
