using System.Globalization;
using System.Text.RegularExpressions;
using Parley.Kit.Chaos.Faults;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Load;
using Parley.Kit.Load.Reports;
using Parley.Kit.Load.Scenarios;
using static Parley.Data.Flags.FlagNames;

namespace Parley.Kit.Nightly;

/// <summary>How a test runs: a load scenario for a (scaled) duration, a chaos scenario, or the baseline comparison of the night's load runs.</summary>
public enum NightlyKind
{
    Load,
    Chaos,
    Baseline,
}

/// <summary>One of seed 002's tests 1–15: what it runs, for how long at full scale, and the criteria it asserts.</summary>
public sealed record NightlyTest(int Number, string Name, string Title, NightlyKind Kind, TimeSpan SeedDuration, string SeedCriteria, bool Soak = false)
{
    /// <summary>Load tests: the scenario, rate (req/s), connections (HTTP pool or WebSockets), gates and runtime flags.</summary>
    public Func<ILoadScenario>? Scenario { get; init; }
    public double Rate { get; init; }
    public int Connections { get; init; }
    public IReadOnlyList<string> Gates { get; init; } = [];
    public IReadOnlyList<string> Flags { get; init; } = [];

    /// <summary>Criteria beyond the gates, from the run and the node's /metrics at its end (load) or the watched scenario (chaos).</summary>
    public Func<NightlyMeasurement, IEnumerable<Criterion>>? Extra { get; init; }

    /// <summary>Chaos tests: the <c>parley chaos</c> scenario, and what to read right after the fault is in.</summary>
    public string? ChaosScenario { get; init; }
    public Func<NightlyEnvironment, RunContext, Dictionary<string, double>, Func<Task>>? AfterInject { get; init; }

    /// <summary>A load test's duration at <paramref name="scale"/>, at least <see cref="NightlyOptions.MinimumDuration"/>; chaos scenarios run their own fixed timelines.</summary>
    public TimeSpan Duration(double scale) =>
        Kind != NightlyKind.Load ? TimeSpan.Zero : TimeSpan.FromSeconds(Math.Max(NightlyOptions.MinimumDuration.TotalSeconds, Math.Round(SeedDuration.TotalSeconds * scale)));

    /// <summary>Expected wall time: the measured duration plus setup (users, sockets, warm-up) or a chaos scenario's timeline and checks.</summary>
    public TimeSpan Estimate(double scale) => Kind switch
    {
        NightlyKind.Load => Duration(scale) + TimeSpan.FromSeconds(40),
        NightlyKind.Chaos => TimeSpan.FromSeconds(60),
        _ => TimeSpan.FromSeconds(1),
    };
}

/// <summary>What a test's extra criteria see.</summary>
public sealed record NightlyMeasurement
{
    public RunSummary? Run { get; init; }
    /// <summary>Load tests: every metric of the node's /metrics at the run's end, summed over labels.</summary>
    public IReadOnlyDictionary<string, double> Metrics { get; init; } = new Dictionary<string, double>();
    public ScenarioResult? Chaos { get; init; }
    public WatchedFault? Watch { get; init; }
    /// <summary>Figures a test read itself during the run (e.g. the killed consumer's pending entries).</summary>
    public IReadOnlyDictionary<string, double> Read { get; init; } = new Dictionary<string, double>();
}

/// <summary>Seed 002's tests 1–15 (../shared/seeds/002_*.txt) at its rates and durations, with its criteria as assertions.</summary>
public static partial class NightlyCatalog
{
    private const string DeadLettered = "parley_outbox_dead_lettered_total";
    private const string Membership = "parley_membership_cache_lookups_total";

    private static Criterion MembershipHits(NightlyMeasurement m, double bound) =>
        NightlyJudge.Above("participant cache hit ratio (parley_membership_cache_lookups_total hit / (hit + miss))", MetricsReading.HitRatio(m.Metrics, Membership), bound);

    public static IReadOnlyList<NightlyTest> All { get; } =
    [
        new(1, "message-soak", "Message throughput soak", NightlyKind.Load, TimeSpan.FromMinutes(30), "P95 < 100ms, errors < 0.1%, lag < 5s, zero DLQ messages", Soak: true)
        {
            Scenario = () => new SoakScenario(), Rate = 500, Connections = 100,
            Gates = ["p95<100ms", "errors<0.1%", "lost==0", "duplicates==0", "delivery.p99<5s", "memory_growth<10%"],
            Extra = m => [NightlyJudge.Equal("zero dead letters (parley_outbox_dead_lettered_total)", m.Metrics.GetValueOrDefault(DeadLettered), 0)],
        },
        new(2, "conversation-crud", "Conversation CRUD stress", NightlyKind.Load, TimeSpan.FromMinutes(15), "P95 < 50ms (cached), cache hit > 80%, RLS validated, version conflicts > 0")
        {
            Scenario = () => new CrudScenario(), Rate = 200, Connections = 64, Flags = [ListCache],
            Gates = ["p95<50ms", "errors<0.1%", "conflicts>0", "forbidden>0"],
            Extra = m => [MembershipHits(m, 0.8)],
        },
        new(3, "participant-invalidation", "Participant cache invalidation", NightlyKind.Load, TimeSpan.FromMinutes(10), "Cache hit recovery > 90% within 1min, invalidation delay < 100ms")
        {
            Scenario = () => new ParticipantsScenario(), Rate = 100, Connections = 64,
            Gates = ["stale==0", "invalidation.p99<100ms", "errors<0.1%"],
            Extra = m => [MembershipHits(m, 0.9)],
        },
        new(4, "ws-http-delivery", "WebSocket + HTTP mixed load", NightlyKind.Load, TimeSpan.FromMinutes(20), "95% messages delivered < 500ms E2E, zero WebSocket disconnects")
        {
            Scenario = () => new WebSocketScenario(), Rate = 500, Connections = 50,
            Gates = ["delivery.p95<500ms", "disconnects==0", "lost==0", "duplicates==0", "errors<0.1%"],
        },
        new(5, "large-payload", "Large payload stress (64 KiB)", NightlyKind.Load, TimeSpan.FromMinutes(15), "Zero payload corruption, memory growth < 10%, no backpressure drops")
        {
            Scenario = () => new LargePayloadScenario(), Rate = 100, Connections = 64,
            Gates = ["corrupted==0", "errors<0.1%", "memory_growth<10%"],
        },
        new(6, "login-soak", "Sustained login load", NightlyKind.Load, TimeSpan.FromMinutes(30), "Success rate > 99.9%, token gen < 50ms, memory stable", Soak: true)
        {
            Scenario = () => new LoginScenario(), Rate = 200, Connections = 64,
            Gates = ["errors<0.1%", "p95<50ms", "memory_growth<5%"],
        },
        new(7, "multi-adapter", "Multi-adapter storage stress", NightlyKind.Load, TimeSpan.FromMinutes(20), "Cache hit > 85%, no circuit breaker opens, stable latencies")
        {
            Scenario = () => new MixedScenario(), Rate = 300, Connections = 64, Flags = [HistoryCache],
            Gates = ["cache_hit>0.85", "errors<1%", "p95<100ms"],
            Extra = m =>
            [
                NightlyJudge.Equal("replica breaker never opened (max state sampled per second)", m.Run?.Server.ReplicaBreakerMax ?? 0, 0),
                NightlyJudge.Equal("cache breaker closed (parley_cache_breaker_state)", m.Metrics.GetValueOrDefault("parley_cache_breaker_state"), 0),
                NightlyJudge.Equal("zero dead letters", m.Metrics.GetValueOrDefault(DeadLettered), 0),
            ],
        },
        new(8, "consumer-kill", "Messaging consumer resilience (SIGKILL)", NightlyKind.Chaos, TimeSpan.FromMinutes(15), "Zero message loss, recovery < 30s, PEL reclaimed == PEL size")
        {
            ChaosScenario = "consumer-kill",
            AfterInject = (env, run, read) => async () => read["pel"] = await PendingAsync(env.Environment, run.Nodes[1].Setting("Parley:Node:Id")!).ConfigureAwait(false),
            Extra = m =>
            [
                NightlyJudge.Equal("PEL reclaimed == PEL size at the kill (parley_stream_reclaimed_total on the restarted node)",
                    m.Watch?.Max("parley_stream_reclaimed_total", duringFault: false, node: 1) ?? 0, m.Read.GetValueOrDefault("pel", double.NaN)),
            ],
        },
        new(9, "redis-partition", "Redis stream partitioning", NightlyKind.Chaos, TimeSpan.FromMinutes(10), "DLQ writes > 0, auto-recovery < 60s, zero permanent loss")
        {
            ChaosScenario = "redis-partition",
            Extra = m =>
            [
                NightlyJudge.Above("DLQ writes: outbox publishes failed and kept for retry (parley_outbox_failed_total)", m.Watch?.Max("parley_outbox_failed_total"), 0),
                NightlyJudge.Above("publishing resumed after recovery (parley_outbox_published_total growth)",
                    (m.Watch?.Max("parley_outbox_published_total", duringFault: false, node: 0) ?? 0) - (m.Watch?.Max("parley_outbox_published_total", duringFault: true, node: 0) ?? 0), 0),
                NightlyJudge.Equal("zero permanent loss: no dead letters", m.Watch?.Max(DeadLettered) ?? 0, 0),
            ],
        },
        new(10, "pool-exhaustion", "Database connection pool exhaustion", NightlyKind.Chaos, TimeSpan.FromMinutes(10), "Circuit breaker opens + closes, no crashes, recovery validated")
        {
            ChaosScenario = "db-pool-breaker",
            Extra = m => [NightlyJudge.Above("pool exhausted: 503 + Retry-After answered", m.Chaos?.StatusCounts.GetValueOrDefault(503), 0)],
        },
        new(11, "cascading-failure", "Cascading failure (primary + Redis down)", NightlyKind.Chaos, TimeSpan.FromMinutes(15), "503 responses (not crashes), auto-recovery < 60s, no corruption")
        {
            ChaosScenario = "cascading-failure",
            Extra = m =>
            [
                NightlyJudge.Above("cache breaker opened during the outage (parley_cache_breaker_state max)", m.Watch?.Max("parley_cache_breaker_state", duringFault: true), 0),
                NightlyJudge.Equal("cache breaker closed again after recovery (last state)", m.Watch?.Last("parley_cache_breaker_state"), 0),
            ],
        },
        new(12, "multi-user-conversations", "100 users × 10 participants", NightlyKind.Load, TimeSpan.FromMinutes(20), "Zero cross-conversation leakage, cache hit > 90%, ACL validated")
        {
            // 100 messages per conversation over the seed's 20 minutes: 10,000 / 1,200 s.
            Scenario = () => new ConversationsScenario(), Rate = 10_000 / 1200.0, Connections = 100,
            Gates = ["leaks==0", "lost==0", "duplicates==0", "disconnects==0", "errors<0.1%"],
            Extra = m => [MembershipHits(m, 0.9)],
        },
        new(13, "migration-under-load", "Migration under load", NightlyKind.Chaos, TimeSpan.FromMinutes(10), "Downtime == 0, error rate < 1%, migration < 60s")
        {
            ChaosScenario = "migration-under-load",
            Extra = m => [NightlyJudge.Below("migration duration", MigrationSeconds(m.Chaos), 60, " s")],
        },
        new(14, "ws-longevity", "Long-running WebSocket connections", NightlyKind.Load, TimeSpan.FromMinutes(30), "Zero disconnects, memory stable, heartbeats consistent", Soak: true)
        {
            Scenario = () => new LongevityScenario(), Rate = 100 / 60.0, Connections = 100,
            Gates = ["disconnects==0", "heartbeats_missed==0", "lost==0", "duplicates==0", "memory_growth<5%"],
            Extra = m => [NightlyJudge.Above("heartbeats answered (pongs)", m.Run?.Counters.GetValueOrDefault("pongs"), 0)],
        },
        new(15, "baseline", "Baseline regression tracking", NightlyKind.Baseline, TimeSpan.Zero, "No regressions > 10% for 3 consecutive nights"),
    ];

    /// <summary>Pending entries of a node's consumer group (XPENDING's count), read straight from Redis.</summary>
    private static async Task<double> PendingAsync(ChaosEnvironment env, string nodeId)
    {
        var reply = await RedisCommand.SendAsync(env.Stack.RedisEndpoint!,
            ["EVAL", "return redis.call('XPENDING', KEYS[1], ARGV[1])[1]", "1", "parley:events", "node:" + nodeId], TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        return reply.StartsWith(':') ? double.Parse(reply[1..], CultureInfo.InvariantCulture) : throw new InvalidOperationException($"XPENDING answered {reply}");
    }

    [GeneratedRegex(@"migration took (?<s>[0-9.]+) s", RegexOptions.CultureInvariant)]
    private static partial Regex MigrationNote();

    private static double? MigrationSeconds(ScenarioResult? result) =>
        result?.Notes.Select(n => MigrationNote().Match(n)).FirstOrDefault(m => m.Success) is { } match
            ? double.Parse(match.Groups["s"].Value, CultureInfo.InvariantCulture) : null;
}
