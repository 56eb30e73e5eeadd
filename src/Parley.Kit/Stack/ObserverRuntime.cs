namespace Parley.Kit.Stack;

/// <summary>
/// Runtime settings for an observer process (<c>parley up --observer</c>, <c>parley load observer</c>, the chaos kit's
/// observer nodes), unless its environment already sets them. Measured at 1,200 events/s (bench, 2 rounds): CPU per
/// event 0.465 ms with the defaults, 0.30-0.33 ms with both. Tiered PGO's instrumented code ran for much of a run, and the
/// thread pool's idle spinning (sched_yield, ~10% of the observer's samples in perf) took cores from PostgreSQL on a
/// small machine. The server nodes keep the defaults (not measured for them).
/// </summary>
public static class ObserverRuntime
{
    public static readonly IReadOnlyDictionary<string, string> Defaults = new Dictionary<string, string>
    {
        ["DOTNET_TieredPGO"] = "0",
        ["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0",
    };

    /// <summary>Adds each default that <paramref name="environment"/> (a process's, inherited from this one) does not set.</summary>
    public static void Apply(IDictionary<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        foreach (var (key, value) in Defaults) environment.TryAdd(key, value);
    }
}
