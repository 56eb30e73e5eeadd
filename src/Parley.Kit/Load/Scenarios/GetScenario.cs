using System.Runtime.CompilerServices;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Http;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// One GET of a fixed path, optionally with a bearer token: the same request an outside tool (wrk) sends, so the two
/// measurements of one endpoint can be compared (bench/wrk-compare.sh).
/// </summary>
public sealed class GetScenario(string path = "health/live", string? bearer = null) : ILoadScenario
{
    public string Name => "get";

    public string Description => "GET one path again and again (default /health/live), for comparison with wrk";

    public string Path { get; } = path.TrimStart('/');

    public ScenarioDefaults Defaults { get; } = new(LoadModel.Closed, 0, 64, TimeSpan.FromSeconds(15), ["errors==0"],
        SeedTarget: "-", SloTarget: "throughput within 10% and p50 within 20% of wrk's on the same endpoint");

    public Task SetupAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;

    private PreparedRequest? _request;

    /// <summary>The request is encoded once and its body only counted, as wrk does.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var request = _request;
        if (request is null || !api.Http.CanSend(request)) _request = request = api.Prepare(HttpMethod.Get, Path, bearer);
        var response = await api.SendAsync(request, discardBody: true, ct).ConfigureAwait(false);
        return Outcome.Classify("get", response.Status, [200]);
    }

    public Task VerifyAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;

    public GetScenario With(string newPath, string? newBearer) => new(newPath, newBearer);
}
