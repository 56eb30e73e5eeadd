using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Chaos.Traffic;
using Parley.Kit.Stack;
using Parley.Kit.Load;

namespace Parley.Kit.Chaos.Scenarios;

/// <summary>The traffic and timeline of a scenario. Every run is bounded: baseline + fault + recovery, at fixed rates.</summary>
public sealed record TrafficPlan
{
    public int Nodes { get; init; } = 1;
    /// <summary>
    /// The nodes behind the stack's balancer (HAProxy, as <c>parley up</c> runs it): every request and socket goes to its one
    /// URL (<see cref="ApiNodes"/> and <see cref="ListenerNodes"/> do not apply); it is stopped after the run.
    /// </summary>
    public bool Balanced { get; init; }
    public bool ViaPgBouncer { get; init; }
    /// <summary>
    /// The nodes reach PostgreSQL directly with the stack's multi-host strings (<see cref="LocalStack.FollowingPrimaryConnectionString"/>),
    /// not through the proxies, so they follow a failover; <see cref="ViaPgBouncer"/> does not apply.
    /// </summary>
    public bool FollowFailover { get; init; }
    public IReadOnlyDictionary<string, string?>? NodeOverrides { get; init; }
    /// <summary>Nodes (by index) the HTTP traffic goes to; null: all, round-robin.</summary>
    public IReadOnlyList<int>? ApiNodes { get; init; }
    /// <summary>Nodes (by index) listeners connect to, in order of preference; null: all.</summary>
    public IReadOnlyList<int>? ListenerNodes { get; init; }
    public IReadOnlyList<string> Flags { get; init; } = [];
    public int Conversations { get; init; } = 4;
    public int MembersPerConversation { get; init; } = 2;
    /// <summary>A WebSocket listener per member, plus one outsider whose every delivery is a leak.</summary>
    public bool Listeners { get; init; }
    public double ReadsPerSecond { get; init; } = 40;
    public double SendsPerSecond { get; init; } = 10;
    public double ListsPerSecond { get; init; }
    public TimeSpan Baseline { get; init; } = TimeSpan.FromSeconds(3);
    public TimeSpan FaultDuration { get; init; } = TimeSpan.FromSeconds(6);
    public TimeSpan Recovery { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>How long after the fault's removal the recovery probe may take to pass; past it the scenario fails as never recovered.</summary>
    public TimeSpan RecoveryBound { get; init; } = TimeSpan.FromSeconds(30);
    public int MaxInFlight { get; init; } = 128;
    public TimeSpan RequestTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan DeliverySettle { get; init; } = TimeSpan.FromSeconds(20);
}

/// <summary>What a running scenario can reach: nodes, API, ledger, users; and where it leaves notes for its report.</summary>
public sealed class RunContext
{
    internal RunContext(ChaosEnvironment env, ChaosLedger ledger, IReadOnlyList<ParleyNode> nodes, ChaosApi api)
    {
        Env = env;
        Ledger = ledger;
        Nodes = nodes;
        Api = api;
    }

    public ChaosEnvironment Env { get; }
    public ChaosLedger Ledger { get; }
    public IReadOnlyList<ParleyNode> Nodes { get; }
    public ChaosApi Api { get; }
    public List<string> Notes { get; } = [];
    /// <summary>Extra URIs listeners use instead of the nodes' own (e.g. a proxy in front of a node).</summary>
    public IReadOnlyList<Uri>? ListenerUris { get; set; }

    /// <summary>What the scenario started for this run (e.g. a proxy), disposed after the listeners, before the nodes.</summary>
    internal List<IAsyncDisposable> Owned { get; } = [];

    public T Own<T>(T resource) where T : IAsyncDisposable
    {
        Owned.Add(resource);
        return resource;
    }

    /// <summary>The nodes as the balancer sees them (<see cref="TrafficPlan.Balanced"/> runs only).</summary>
    public Task<IReadOnlyList<Parley.Kit.Stack.BalancedNodeState>> BalancerNodesAsync() =>
        (Env.Stack.BalancerRuntime ?? throw new InvalidOperationException("This run has no balancer (TrafficPlan.Balanced).")).NodesAsync();

    /// <summary>The overall and per-check status of <c>/health/ready</c> on node 0 (null: no answer).</summary>
    public Task<Dictionary<string, string>?> ReadyAsync() => Api.ReadyAsync();
}

/// <summary>A scenario built from a plan, a fault and probes; see <see cref="FaultedRun.RunAsync"/>.</summary>
public sealed class FaultedScenario(
    string name,
    string description,
    TrafficPlan plan,
    Func<RunContext, IFault> fault,
    Func<ScenarioResult, IEnumerable<Criterion>> criteria,
    Func<RunContext, Task<bool>>? detected = null,
    Func<RunContext, Task<bool>>? recovered = null,
    Func<RunContext, Task>? prepare = null,
    bool smoke = true) : ChaosScenario
{
    public override string Name => name;
    public override string Description => description;
    public override bool Smoke => smoke;
    public TrafficPlan Plan => plan;

    /// <summary>The pass criteria applied to a run's figures (the gate tests judge figures without a stack).</summary>
    internal IEnumerable<Criterion> Judge(ScenarioResult measured) => criteria(measured);

    /// <summary>The same scenario (criteria and probes) with another plan or a wrapped fault, e.g. one never removed to see the gate fail.</summary>
    public FaultedScenario With(Func<TrafficPlan, TrafficPlan>? changePlan = null, Func<IFault, IFault>? wrapFault = null) =>
        With(changePlan, wrapFault is null ? null : (_, f) => wrapFault(f));

    /// <summary>As <see cref="With(Func{TrafficPlan, TrafficPlan}?, Func{IFault, IFault}?)"/>, the wrapper seeing the run (its nodes), e.g. to watch their metrics.</summary>
    public FaultedScenario With(Func<TrafficPlan, TrafficPlan>? changePlan, Func<RunContext, IFault, IFault>? wrapFault) =>
        new(name, description, changePlan?.Invoke(plan) ?? plan, run => wrapFault is null ? fault(run) : wrapFault(run, fault(run)), criteria, detected, recovered, prepare, smoke);

    public override Task<ScenarioResult> RunAsync(ChaosEnvironment env, CancellationToken ct = default) =>
        FaultedRun.RunAsync(env, this, fault, criteria, detected, recovered, prepare, ct);
}

/// <summary>
/// Runs one scenario: nodes up, users and conversations, listeners, then reads and sends at fixed rates while the fault
/// is injected after the baseline and removed after its duration; probes detection and recovery; checks the invariants.
/// </summary>
public static class FaultedRun
{
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(100);

    public static async Task<ScenarioResult> RunAsync(
        ChaosEnvironment env, FaultedScenario scenario, Func<RunContext, IFault> makeFault, Func<ScenarioResult, IEnumerable<Criterion>> criteria,
        Func<RunContext, Task<bool>>? detected, Func<RunContext, Task<bool>>? recovered, Func<RunContext, Task>? prepare, CancellationToken ct)
    {
        var plan = scenario.Plan;
        var ledger = new ChaosLedger();
        var nodes = new List<ParleyNode>();
        var listeners = new List<ChaosListener>();
        var runId = Random.Shared.Next(100_000, 999_999);
        RunContext? run = null;
        var balanced = false;
        try
        {
            env.Progress?.Report($"{scenario.Name}: starting {plan.Nodes} node(s)");
            for (var i = 0; i < plan.Nodes; i++)
                nodes.Add(await env.StartNodeAsync($"chaos-{scenario.Name}-{runId}-{i}", env.NodeSettings($"chaos-{runId}-{i}", plan.ViaPgBouncer, plan.NodeOverrides, plan.FollowFailover), ct).ConfigureAwait(false));
            if (plan.Balanced)
            {
                balanced = true;
                await env.Stack.StartBalancerAsync(nodes.Select((n, i) => new BalancedNode(BalancedNode.NameOf(i), n.BaseAddress.Port)).ToList(), ct: ct).ConfigureAwait(false);
                await env.Stack.BalancerRuntime!.WaitUntilCheckedAsync(ParleyNode.StartTimeout, ct: ct).ConfigureAwait(false);
            }
            IReadOnlyList<Uri> NodeUris(IReadOnlyList<int>? chosen) =>
                plan.Balanced ? [env.Stack.BalancerUrl!] : (chosen ?? Enumerable.Range(0, plan.Nodes).ToList()).Select(i => nodes[i].BaseAddress).ToList();
            var apiNodes = NodeUris(plan.ApiNodes);
            using var api = new ChaosApi(ledger, apiNodes, plan.RequestTimeout);
            run = new RunContext(env, ledger, nodes, api);

            var admin = await api.NewUserAsync("", ChaosEnvironment.AdminHandle).ConfigureAwait(false);
            foreach (var flag in plan.Flags) await api.SetFlagAsync(admin, flag, enabled: true).ConfigureAwait(false);
            var conversations = new List<(Guid Id, ApiUser Owner, List<ApiUser> Members)>();
            for (var c = 0; c < plan.Conversations; c++)
            {
                var owner = await api.NewUserAsync("co").ConfigureAwait(false);
                var members = new List<ApiUser>();
                for (var m = 0; m < plan.MembersPerConversation; m++) members.Add(await api.NewUserAsync("cm").ConfigureAwait(false));
                conversations.Add((await api.CreateConversationAsync(owner, members).ConfigureAwait(false), owner, members));
            }
            if (prepare is not null) await prepare(run).ConfigureAwait(false);
            if (plan.Listeners)
            {
                var uris = run.ListenerUris ?? NodeUris(plan.ListenerNodes);
                foreach (var (_, _, members) in conversations)
                    foreach (var member in members) listeners.Add(new ChaosListener(api, uris, member, $"L{listeners.Count}-{member.Handle}"));
                listeners.Add(new ChaosListener(api, uris, await api.NewUserAsync("outsider").ConfigureAwait(false), "outsider"));
                await Task.WhenAll(listeners.Select(l => l.Live)).WaitAsync(TimeSpan.FromSeconds(20), ct).ConfigureAwait(false);
            }
            if (plan.Flags.Count > 0) await Task.Delay(TimeSpan.FromSeconds(1.5), ct).ConfigureAwait(false); // flags reach every node within 1 s

            var fault = makeFault(run);
            var total = plan.Baseline + plan.FaultDuration + plan.Recovery;
            var readers = conversations.SelectMany(c => c.Members.Select(m => (c.Id, Reader: m))).ToList();
            env.Progress?.Report($"{scenario.Name}: traffic for {total.TotalSeconds:0} s ({plan.ReadsPerSecond} reads/s, {plan.SendsPerSecond} sends/s); fault: {fault.Description}");
            var traffic = new List<Task>();
            if (plan.ReadsPerSecond > 0)
                traffic.Add(RateLoop.RunAsync(plan.ReadsPerSecond, total, plan.MaxInFlight, n => { var r = readers[n % readers.Count]; return api.HistoryAsync(r.Reader, r.Id); }, ct));
            if (plan.ListsPerSecond > 0)
                traffic.Add(RateLoop.RunAsync(plan.ListsPerSecond, total, plan.MaxInFlight, n => api.ListAsync(readers[n % readers.Count].Reader), ct));
            if (plan.SendsPerSecond > 0)
                traffic.Add(RateLoop.RunAsync(plan.SendsPerSecond, total, plan.MaxInFlight, n => { var c = conversations[n % conversations.Count]; return api.SendAsync(c.Owner, c.Id, $"r{runId}-{n}"); }, ct));

            using var account = new RuntimeAccount(nodes.Select(n => n.BaseAddress).ToList(), () => ledger.NowMs);
            await account.BaselineAsync().ConfigureAwait(false);
            await Task.Delay(plan.Baseline, ct).ConfigureAwait(false);
            await account.BeginAsync().ConfigureAwait(false);
            var injectedAt = ledger.NowMs;
            double? detectedAt = null;
            await fault.InjectAsync(ct).ConfigureAwait(false);
            var faultEnd = DateTime.UtcNow + plan.FaultDuration - TimeSpan.FromMilliseconds(ledger.NowMs - injectedAt);
            while (DateTime.UtcNow < faultEnd)
            {
                if (detected is not null && detectedAt is null && await detected(run).ConfigureAwait(false)) detectedAt = ledger.NowMs;
                await Task.Delay(ProbeInterval, ct).ConfigureAwait(false);
            }
            var removedAt = ledger.NowMs;
            await fault.RemoveAsync(ct).ConfigureAwait(false);
            if (await account.EndAsync(injectedAt).ConfigureAwait(false) is { } runtime) run.Notes.Add(runtime);
            double? probeRecoveredAt = recovered is null ? removedAt : await AwaitRecoveryAsync(() => recovered(run), plan.RecoveryBound, ledger, ct).ConfigureAwait(false);
            await Task.WhenAll(traffic).ConfigureAwait(false);

            env.Progress?.Report($"{scenario.Name}: checking invariants");
            var owners = conversations.ToDictionary(c => c.Id, c => c.Owner);
            var invariants = await InvariantChecker.CheckAsync(ledger, env.Stack.PrimaryConnectionString,
                (conversation, token) => api.ReadAllAsync(owners[conversation], conversation, token), plan.DeliverySettle, ct).ConfigureAwait(false);
            if (listeners.Count > 0)
                run.Notes.Add($"listeners: {listeners.Count}, reconnects {listeners.Sum(l => l.Connects - 1)}, resyncs {listeners.Sum(l => l.Resyncs)}");

            var result = Measure(scenario, fault, ledger, injectedAt, detectedAt, removedAt, probeRecoveredAt, invariants, run.Notes) with
            {
                LongestSocketGapSeconds = listeners.Count == 0 ? null : Math.Round(listeners.Max(l => l.LongestGapMs) / 1000, 2),
            };
            return result with { Criteria = criteria(result).ToList() };
        }
        finally
        {
            foreach (var listener in listeners) await listener.DisposeAsync().ConfigureAwait(false);
            foreach (var owned in run?.Owned ?? []) await owned.DisposeAsync().ConfigureAwait(false);
            if (balanced) await env.Stack.StopBalancerAsync(CancellationToken.None).ConfigureAwait(false);
            foreach (var node in nodes) await node.DisposeAsync().ConfigureAwait(false);
            await env.HealAsync(CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Polls <paramref name="probe"/> until it passes or <paramref name="bound"/> is over: the ledger time it first passed,
    /// or null when it never did (the scenario then fails as never recovered, whatever its criteria say).
    /// </summary>
    public static async Task<double?> AwaitRecoveryAsync(Func<Task<bool>> probe, TimeSpan bound, ChaosLedger ledger, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + bound;
        do
        {
            if (await probe().ConfigureAwait(false)) return ledger.NowMs;
            await Task.Delay(ProbeInterval, ct).ConfigureAwait(false);
        }
        while (DateTime.UtcNow < deadline);
        return null;
    }

    /// <summary>
    /// The figures of a run. <paramref name="probeRecoveredAt"/>: when the recovery probe passed (the removal time when
    /// the scenario has none); null: it never passed, so <see cref="ScenarioResult.RecoverySeconds"/> is null and the run fails.
    /// </summary>
    internal static ScenarioResult Measure(
        FaultedScenario scenario, IFault fault, ChaosLedger ledger, double injectedAt, double? detectedAt, double removedAt, double? probeRecoveredAt,
        InvariantReport invariants, List<string> notes)
    {
        var measured = ledger.Requests.Where(r => !r.Operation.StartsWith("setup:", StringComparison.Ordinal) && !r.Operation.StartsWith("check:", StringComparison.Ordinal)).ToList();
        var during = measured.Where(r => r.StartMs >= injectedAt && r.StartMs <= removedAt).ToList();
        var latencies = during.Select(r => r.LatencyMs).Order().ToList();
        // The baseline's first second warms the new node up (JIT, pools); its last 2 s are the reference.
        var before = measured.Where(r => r.StartMs >= injectedAt - 2000 && r.StartMs < injectedAt).Select(r => r.LatencyMs).Order().ToList();
        var failuresAfter = measured.Where(r => !r.Succeeded && r.EndMs > removedAt).Select(r => r.EndMs - removedAt).DefaultIfEmpty(0).Max();
        // Deliveries of messages acknowledged before the removal: when the last of them arrived.
        var sentBefore = ledger.Sent.Where(m => m.EndMs <= removedAt).Select(m => m.Id).ToHashSet();
        var deliveryCatchUp = ledger.Deliveries.Where(d => sentBefore.Contains(d.MessageId)).GroupBy(d => (d.ListenerId, d.MessageId))
            .Select(g => g.Min(d => d.AtMs) - removedAt).DefaultIfEmpty(0).Max();
        // Where a slow fault window comes from: each operation's p95, and the slowest requests with their start after the injection.
        if (during.Count > 0)
        {
            notes.Add("p95 during the fault by operation: " + string.Join(", ", during.GroupBy(r => r.Operation).OrderBy(g => g.Key, StringComparer.Ordinal)
                .Select(g => $"{g.Key} {P95(g.Select(r => r.LatencyMs).Order().ToList()):0} ms ({g.Count()})")));
            // Requests without an HTTP answer are no violation (a client retries them), but which and why says where the fault showed.
            var unanswered = during.Where(r => r.Status == 0 && r.Error is not null).GroupBy(r => $"{r.Operation} {r.Error}").ToList();
            if (unanswered.Count > 0)
                notes.Add("without an answer during the fault: " + string.Join(", ", unanswered.OrderBy(g => g.Key, StringComparer.Ordinal).Select(g => $"{g.Key} ×{g.Count()} (first at +{g.Min(r => r.StartMs) - injectedAt:0} ms)")));
            notes.Add("slowest during the fault: " + string.Join(", ", during.OrderByDescending(r => r.LatencyMs).Take(5)
                .Select(r => $"{r.Operation} at +{r.StartMs - injectedAt:0} ms took {r.LatencyMs:0} ms{ServerAccount(r)}")));
        }
        double? recovery = probeRecoveredAt is { } passedAt ? Math.Max(0, Math.Max(failuresAfter, Math.Max(deliveryCatchUp, passedAt - removedAt))) / 1000 : null;
        return new ScenarioResult
        {
            Scenario = scenario.Name,
            Description = scenario.Description,
            Fault = fault.Description,
            DurationSeconds = Math.Round(ledger.NowMs / 1000, 1),
            Requests = measured.Count,
            RequestsDuringFault = during.Count,
            SuccessRateDuringFault = during.Count == 0 ? 0 : (double)during.Count(r => r.Succeeded) / during.Count,
            AnsweredRateDuringFault = during.Count == 0 ? 0 : (double)during.Count(r => r.Succeeded || (r.Status == 503 && r.RetryAfter)) / during.Count,
            WorstLatencyDuringFaultMs = Math.Round(latencies.DefaultIfEmpty(0).Max(), 1),
            P95DuringFaultMs = Math.Round(P95(latencies), 1),
            P95BeforeFaultMs = Math.Round(P95(before), 1),
            DetectionSeconds = detectedAt is { } d ? Math.Round((d - injectedAt) / 1000, 2) : null,
            RecoverySeconds = recovery is { } seconds ? Math.Round(seconds, 2) : null,
            RecoveryBoundSeconds = scenario.Plan.RecoveryBound.TotalSeconds,
            StatusCounts = measured.GroupBy(r => r.Status).ToDictionary(g => g.Key, g => g.Count()),
            Invariants = invariants,
            Notes = notes,
        };
    }

    // The server's own time for the request (Server-Timing): close to the client's when the server was slow, far below it when the request waited outside.
    private static string ServerAccount(RequestOutcome r) =>
        r.ServerMs is { } app ? $" (server {app:0} ms, of it cache {r.CacheMs ?? 0:0} ms)" : "";

    private static double P95(IReadOnlyList<double> sorted) =>
        sorted.Count == 0 ? 0 : sorted[(int)Math.Min(sorted.Count - 1, Math.Ceiling(sorted.Count * 0.95) - 1)];
}
