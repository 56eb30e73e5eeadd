using Parley.Observer.Actions;

namespace Parley.Observer;

/// <summary>
/// Every section under <c>Parley:Observer</c> the observer binds, with its options class: <c>parley config check</c>
/// walks it beside the server's <c>ParleySettings.Sections</c>, so an observer key is never reported unknown.
/// </summary>
public static class ObserverSettings
{
    public static IReadOnlyDictionary<Type, string> Sections { get; } = new Dictionary<Type, string>
    {
        [typeof(ObserverOptions)] = ObserverOptions.Section,
        [typeof(BreakerOptions)] = BreakerOptions.Section,
        [typeof(SmtpOptions)] = SmtpOptions.Section,
    };
}
