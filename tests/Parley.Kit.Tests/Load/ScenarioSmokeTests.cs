using Parley.Kit.Load;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load.Gates;
using Parley.Kit.Load.Reports;
using Parley.Kit.Load.Scenarios;
using Parley.Kit.Load.Seeding;

namespace Parley.Kit.Tests.Load;

/// <summary>A few seconds of every scenario against a real server: counts and correctness only, no latency assertions.</summary>
[Trait("Category", "Integration")]
public sealed class ScenarioSmokeTests(LoadServerFixture server) : IClassFixture<LoadServerFixture>
{
    // Open model: arrivals beyond connections × 5 in flight are dropped (errors). 32 connections give a busy CI machine
    // seconds of slack before a drop: this smoke checks correctness, capacity is the benchmarks' business.
    private Task<RunSummary> RunAsync(string name, double rate = 40, int connections = 32, LoadModel model = LoadModel.Open, string[]? gates = null,
        Dictionary<string, bool>? flags = null)
    {
        var scenario = ScenarioCatalog.Create(name);
        var profile = new LoadProfile
        {
            Model = model,
            Plan = StagePlan.Constant(model == LoadModel.Open ? rate : connections, TimeSpan.FromSeconds(2)),
            Connections = connections,
            WarmUp = TimeSpan.FromSeconds(1),
            Pacing = model == LoadModel.Closed ? TimeSpan.FromMilliseconds(200) : TimeSpan.Zero,
        };
        var gateList = (gates ?? scenario.Defaults.Gates.Where(g => !g.StartsWith('p') && !g.Contains(".p", StringComparison.Ordinal) && !g.StartsWith("memory", StringComparison.Ordinal)).ToArray())
            .Select(Gate.Parse).ToList();
        return LoadRunner.RunAsync(scenario, new LoadRunSettings(server.BaseAddress.ToString(), profile, gateList, "smoke") { Flags = flags ?? [] }, CancellationToken.None);
    }

    private static void AssertClean(RunSummary run)
    {
        Assert.True(run.Requests > 0, $"{run.Scenario}: no request was measured");
        Assert.True(run.Errors == 0, $"{run.Scenario}: {run.Errors} errors: {string.Join(", ", run.ErrorKinds.Select(k => $"{k.Key}×{k.Value}"))}");
        Assert.True(run.Verdict == "pass", $"{run.Scenario}: {string.Join("; ", run.Gates.Select(g => g.Text))}");
        Assert.NotEmpty(run.Timeline);
        Assert.Contains("<svg", HtmlReport.Render(run), StringComparison.Ordinal);
        Assert.Equal(run.Requests, RunSummary.FromJson(run.ToJson()).Requests);
    }

    [Theory]
    [InlineData("history")]
    [InlineData("send")]
    [InlineData("mixed")]
    [InlineData("login")]
    public async Task Request_scenarios_run_clean(string name)
    {
        var run = await RunAsync(name);

        AssertClean(run);
        Assert.InRange(run.Requests, 40, 100); // 2 s at 40/s, give or take a tick
    }

    [Fact]
    public async Task A_flag_set_for_the_run_shows_in_the_cache_hit_ratio()
    {
        var run = await RunAsync("history", flags: new Dictionary<string, bool> { ["message.history.cache.enabled"] = true });

        AssertClean(run);
        Assert.True(run.Flags["message.history.cache.enabled"]);
        Assert.True(run.Server.CacheHitRatio is not null, $"no cache lookup counted in {run.Server.Samples} /metrics samples");
        Assert.True(run.Server.CacheHitRatio > 0, "history reads with the cache flag on should hit the cache");
    }

    [Fact]
    public async Task Spike_holds_its_connections_in_the_closed_model()
    {
        var run = await RunAsync("spike", connections: 20, model: LoadModel.Closed);

        AssertClean(run);
        Assert.Equal("closed", run.Model);
        Assert.Equal(20, run.Connections);
    }

    [Fact]
    public async Task Crud_counts_expected_409_and_403_as_correct()
    {
        var run = await RunAsync("crud", rate: 100, gates: ["errors==0", "conflicts>0", "forbidden>0"]);

        AssertClean(run);
        // The server refused stale versions and outsiders, and the run counted those refusals as correct, not as errors.
        var update = run.Operations["update"];
        var conflicts = update.Statuses.GetValueOrDefault("409");
        var forbidden = update.Statuses.GetValueOrDefault("403");
        Assert.True(conflicts > 0, $"no update was answered 409 (statuses {string.Join(' ', update.Statuses.Select(kv => $"{kv.Key}×{kv.Value}"))})");
        Assert.True(forbidden > 0, "no update was answered 403");
        Assert.Equal(0, update.Errors);
        Assert.True(run.Expected >= conflicts + forbidden, $"{run.Expected} expected refusals, but {conflicts} 409s and {forbidden} 403s were measured");
        Assert.True(run.Counters["conflicts"] >= conflicts, $"conflicts counter {run.Counters["conflicts"]} < {conflicts} measured 409s");
        Assert.Equal(["create", "delete", "list", "update"], run.Operations.Keys.Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Participants_sees_no_stale_read()
    {
        var run = await RunAsync("participants");

        AssertClean(run);
        Assert.Equal(0, run.Counters["stale"]);
        Assert.True(run.Histograms["invalidation"].Count > 0);
    }

    [Fact]
    public async Task Large_bodies_come_back_byte_for_byte()
    {
        var run = await RunAsync("large", rate: 20);

        AssertClean(run);
        Assert.Equal(0, run.Counters["corrupted"]);
    }

    [Theory]
    [InlineData("ws")]
    [InlineData("soak")]
    [InlineData("conversations")]
    [InlineData("longevity")]
    public async Task Delivery_scenarios_lose_nothing(string name)
    {
        var run = await RunAsync(name, rate: 50, connections: 10);

        AssertClean(run);
        Assert.Equal(0, run.Counters["lost"]);
        Assert.Equal(0, run.Counters["disconnects"]);
        Assert.Equal(0, run.Counters["leaks"]);
        Assert.True(run.Histograms["delivery"].Count >= run.Ok, "every message should reach at least one socket");
    }

    [Fact]
    public async Task A_verification_that_fails_keeps_the_measured_run_and_leaves_its_gate_inconclusive()
    {
        var profile = new LoadProfile { Model = LoadModel.Open, Plan = StagePlan.Constant(20, TimeSpan.FromSeconds(1)), Connections = 4, WarmUp = TimeSpan.Zero };
        var run = await LoadRunner.RunAsync(new VerifyFails(), new LoadRunSettings(server.BaseAddress.ToString(), profile, [Gate.Parse("lost==0")], "smoke"), CancellationToken.None);

        Assert.True(run.Requests > 0);
        Assert.Contains("verification lost its server", run.VerifyError);
        Assert.Equal("inconclusive", run.Verdict);
    }

    /// <summary>The get scenario, whose verification fails as a server gone after a long run would make it.</summary>
    private sealed class VerifyFails : ILoadScenario
    {
        private readonly GetScenario _get = new();

        public string Name => "verify-fails";

        public string Description => "get, then a failing verification";

        public ScenarioDefaults Defaults => _get.Defaults;

        public Task SetupAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;

        public ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct) => _get.RunOnceAsync(context, api, iteration, ct);

        public Task VerifyAsync(LoadContext context, CancellationToken ct) => throw new HttpRequestException("verification lost its server");
    }

    [Fact]
    public async Task Seeding_copies_users_conversations_and_messages()
    {
        var result = await Seeder.SeedAsync(server.Stack.PrimaryConnectionString,
            new SeedOptions(Users: 30, Conversations: 50, Messages: 5_000, PasswordHashIterations: 1000), null, CancellationToken.None);

        Assert.Equal(5_000, result.Messages);
        // The seeded users log in with the kit's password and read a seeded page.
        using var http = LoadRunner.CreateClient(server.BaseAddress, 4, TimeSpan.FromSeconds(10));
        var api = new ParleyApiClient(http);
        var user = await api.LoginAsync($"{Fixture.HandlePrefix}29", CancellationToken.None);
        var list = (await api.GetAsync("v1/conversations?limit=5", user.Token, CancellationToken.None)).EnsureSuccess("list").Json;
        var first = list.GetProperty("items")[0];
        Assert.NotEqual(System.Text.Json.JsonValueKind.Null, first.GetProperty("lastMessage").ValueKind);
        var page = (await api.HistoryAsync(user, first.GetProperty("id").GetGuid(), 50, CancellationToken.None)).EnsureSuccess("history").Json;
        Assert.Equal(50, page.GetProperty("items").GetArrayLength());
    }
}
