using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// The seeds' message scenarios on one fixture: every user is a participant of every conversation; reads go to the
/// first 50 conversations (each holds a page and more of messages), sends spread over all 200 so that no single
/// conversation row becomes an artificial hot spot. <c>history</c> reads the newest 50, <c>send</c> posts ~100-byte bodies,
/// <c>mixed</c> does both 70/30, <c>spike</c> is mixed traffic from 5,000 → 10,000 held connections.
/// </summary>
public abstract class MessagingScenario : ILoadScenario
{
    private const int Users = 20;
    private const int ConversationCount = 200;
    private const int FilledConversations = 50;
    private static readonly string Body = new('x', 100);
    private Fixture? _fixture;

    public abstract string Name { get; }

    public abstract string Description { get; }

    public abstract ScenarioDefaults Defaults { get; }

    /// <summary>Percent of iterations that read history; the rest send.</summary>
    protected abstract int ReadPercent { get; }

    public async Task SetupAsync(LoadContext context, CancellationToken ct)
    {
        _fixture = await Fixture.UsersAsync(context, Users, ct).ConfigureAwait(false);
        await _fixture.AddConversationsAsync(context, ConversationCount, _ => _fixture.Users, ct).ConfigureAwait(false);
        if (ReadPercent > 0) await _fixture.FillAsync(context, FilledConversations, 60, 100, ct).ConfigureAwait(false);
    }

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var fixture = _fixture ?? throw new InvalidOperationException("SetupAsync first.");
        var user = fixture.Users[(int)(iteration / 7 % fixture.Users.Count)];
        if (iteration % 100 < ReadPercent)
        {
            var conversation = fixture.Conversations[(int)(iteration % FilledConversations)];
            var page = await api.HistoryAsync(user, conversation.Id, 50, ct).ConfigureAwait(false);
            return Outcome.Classify("history", page.Status, [200]);
        }
        var target = fixture.Conversations[(int)(iteration % fixture.Conversations.Count)];
        var sent = await api.SendMessageAsync(user, target.Id, Body, $"{context.RunId}-{iteration}", ct).ConfigureAwait(false);
        return Outcome.Classify("send", sent.Status, [201]);
    }

    public Task VerifyAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;
}

public sealed class HistoryScenario : MessagingScenario
{
    public override string Name => "history";

    public override string Description => "read-heavy: GET …/messages?limit=50 from random conversations";

    protected override int ReadPercent => 100;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 4000, 5000, TimeSpan.FromMinutes(1), ["p95<50ms", "errors<1%"],
        SeedTarget: "p95 ≤ 350 ms at ≥ 100 req/s, 5,000 connections, < 1% errors",
        SloTarget: "p95 ≤ 50 ms at ≥ 4,000 req/s with 5,000 connections");
}

public sealed class SendScenario : MessagingScenario
{
    public override string Name => "send";

    public override string Description => "write-heavy: POST …/messages (~100-byte bodies, unique clientMessageId)";

    protected override int ReadPercent => 0;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 2500, 5000, TimeSpan.FromMinutes(1), ["p95<50ms", "errors<1%"],
        SeedTarget: "p95 ≤ 250 ms at ≥ 100 req/s, 5,000 connections",
        SloTarget: "p95 ≤ 50 ms at ≥ 2,500 req/s");
}

public sealed class MixedScenario : MessagingScenario
{
    public override string Name => "mixed";

    public override string Description => "70% history reads, 30% sends";

    protected override int ReadPercent => 70;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 3000, 8000, TimeSpan.FromMinutes(1), ["p95<75ms", "errors<1%"],
        SeedTarget: "p95 ≤ 300 ms at ≥ 150 req/s, 8,000 connections",
        SloTarget: "p95 ≤ 75 ms at ≥ 3,000 req/s, 8,000 connections");
}

public sealed class SpikeScenario : MessagingScenario
{
    public override string Name => "spike";

    public override string Description => "mixed traffic from held connections, 5k (2m) → 10k (1m) → 10k (5m) → 5k (1m); each connection sends every 10 s";

    protected override int ReadPercent => 70;

    public override ScenarioDefaults Defaults { get; } = new(LoadModel.Closed, 0, 5000, TimeSpan.FromMinutes(9), ["p95<150ms", "errors==0"],
        Stages: "2m:5000,1m:10000,5m:10000,1m:5000", Pacing: TimeSpan.FromSeconds(10),
        SeedTarget: "p95 ≤ 500 ms during the spike, no errors",
        SloTarget: "p95 ≤ 150 ms, zero errors, 10,000 connections held");
}
