using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;

namespace Parley.Kit.Load;

/// <summary>
/// A load scenario: what one request (iteration) does, what it needs first, and what it checks after. The engine
/// decides when iterations run (open or closed model) and measures them; scenarios only do the work and say how it went.
/// </summary>
public interface ILoadScenario
{
    /// <summary>The CLI name: <c>parley load &lt;name&gt;</c>.</summary>
    string Name { get; }

    string Description { get; }

    /// <summary>Profile and gates when the command line does not say otherwise (from SLO.md).</summary>
    ScenarioDefaults Defaults { get; }

    /// <summary>Creates what the iterations need (users, conversations, sockets) through the public API.</summary>
    Task SetupAsync(LoadContext context, CancellationToken ct);

    /// <summary>
    /// One iteration on <paramref name="api"/> (the run's shared pool in the open model, the virtual user's own
    /// connection in the closed one). <paramref name="iteration"/> is unique per run; use it to spread work.
    /// </summary>
    ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct);

    /// <summary>After the load: correctness checks (lost, duplicates, stale, corrupted) into <see cref="LoadContext.Counters"/>; closes sockets.</summary>
    Task VerifyAsync(LoadContext context, CancellationToken ct);
}

/// <summary>Defaults of a scenario; <see cref="Gates"/> are in SLO.md's terms (Parley's target on this machine).</summary>
public sealed record ScenarioDefaults(
    LoadModel Model,
    double Rate,
    int Connections,
    TimeSpan Duration,
    IReadOnlyList<string> Gates,
    string? Stages = null,
    TimeSpan? Pacing = null,
    string SeedTarget = "",
    string SloTarget = "");

/// <summary>How an iteration ended. <see cref="OutcomeKind.Expected"/> is a refusal the scenario provokes on purpose (a stale 409, a 403).</summary>
public readonly record struct Outcome(string Operation, OutcomeKind Kind, int Status, string? Error = null)
{
    public static Outcome Ok(string operation, int status) => new(operation, OutcomeKind.Ok, status);

    public static Outcome Expected(string operation, int status) => new(operation, OutcomeKind.Expected, status);

    public static Outcome Failed(string operation, int status, string? error = null) => new(operation, OutcomeKind.Error, status, error);

    /// <summary>Ok when the status is one of <paramref name="ok"/>, expected when one of <paramref name="expected"/>, else an error.</summary>
    public static Outcome Classify(string operation, int status, ReadOnlySpan<int> ok, ReadOnlySpan<int> expected = default) =>
        ok.Contains(status) ? Ok(operation, status)
        : expected.Contains(status) ? Expected(operation, status)
        : Failed(operation, status);
}

public enum OutcomeKind
{
    Ok,
    Expected,
    Error,
}

/// <summary>A scenario whose <c>--connections</c> are WebSockets it opens itself; HTTP goes through a small pool.</summary>
public interface IWebSocketScenario;
