using Microsoft.Extensions.Options;
using Parley.Data;
using Parley.Redis;
using Parley.Server.Auth;
using Parley.Server.Caching;
using Parley.Server.Delivery;
using Parley.Server.Features.Health;
using Parley.Server.Features.Messages;
using Parley.Server.Http.Admission;
using Parley.Server.Monitoring;

namespace Parley.Server.Extensions;

/// <summary>
/// Every section under <c>Parley:</c> the server reads, with the options class bound to it. The server binds
/// only through <see cref="AddParleyOptions{T}"/>, which refuses a class missing here, and
/// <c>parley config check</c> walks the same table: a key the server reads is never reported unknown.
/// </summary>
public static class ParleySettings
{
    public const string RedisSection = "Parley:Redis";

    public static IReadOnlyDictionary<Type, string> Sections { get; } = new Dictionary<Type, string>
    {
        [typeof(DataOptions)] = DataOptions.Section,
        [typeof(AuthOptions)] = AuthOptions.Section,
        [typeof(RedisOptions)] = RedisSection,
        [typeof(HealthOptions)] = HealthOptions.Section,
        [typeof(CacheOptions)] = CacheOptions.Section,
        [typeof(DeliveryOptions)] = DeliveryOptions.Section,
        [typeof(NodeOptions)] = NodeOptions.Section,
        [typeof(MonitoringOptions)] = MonitoringOptions.Section,
        [typeof(SendRateOptions)] = SendRateOptions.Section,
        [typeof(AdmissionOptions)] = AdmissionOptions.Section,
    };

    /// <summary>Binds <typeparamref name="T"/> to its section of <see cref="Sections"/>.</summary>
    public static OptionsBuilder<T> AddParleyOptions<T>(this IServiceCollection services) where T : class =>
        services.AddOptions<T>().BindConfiguration(Sections.TryGetValue(typeof(T), out var section)
            ? section
            : throw new InvalidOperationException($"{typeof(T).Name} is not in ParleySettings.Sections: add it there so `parley config check` knows its keys."));
}
