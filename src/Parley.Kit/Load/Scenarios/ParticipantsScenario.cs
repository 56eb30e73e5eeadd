using System.Diagnostics;
using Parley.Kit.Load.Engine;
using Parley.Kit.Load;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// Rapid participant changes. Each iteration takes a conversation nobody else is changing, adds or removes its
/// candidate user, then reads history as that user: right after an add the read must be 200, right after a removal 403
/// (API.md: removal takes effect at once). A first read that shows the old membership is a <c>stale</c> read; the
/// time from the change's answer to the first read that shows it goes to the <c>invalidation</c> histogram.
/// </summary>
public sealed class ParticipantsScenario : ILoadScenario
{
    private const int ConversationCount = 200;
    private static readonly TimeSpan PropagationLimit = TimeSpan.FromSeconds(2);
    private Fixture? _fixture;
    private Slot[] _slots = [];

    public string Name => "participants";

    public string Description => "add/remove participants rapidly; the changed user's next read must see it (stale reads, invalidation delay)";

    public ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 100, 64, TimeSpan.FromMinutes(1), ["stale==0", "invalidation.p99<20ms", "errors<0.1%"],
        SeedTarget: "100 changes/s, propagation < 100 ms, no stale reads",
        SloTarget: "propagation p99 < 20 ms, zero stale reads");

    private sealed class Slot(FixtureConversation conversation, ApiUser candidate)
    {
        public FixtureConversation Conversation { get; } = conversation;
        public ApiUser Candidate { get; } = candidate;
        public bool Member;
        public int Busy;
    }

    public async Task SetupAsync(LoadContext context, CancellationToken ct)
    {
        _fixture = await Fixture.UsersAsync(context, 20, ct).ConfigureAwait(false);
        await _fixture.AddConversationsAsync(context, ConversationCount, _ => [], ct).ConfigureAwait(false);
        _slots = _fixture.Conversations.Select((c, k) => new Slot(c, _fixture.Users[(k + 1 + k / _fixture.Users.Count) % _fixture.Users.Count])).ToArray();
        context.DeclareCounter("stale");
    }

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        Slot? slot = null;
        for (var i = 0; i < _slots.Length && slot is null; i++)
        {
            var candidate = _slots[(int)((iteration + i) % _slots.Length)];
            if (Interlocked.CompareExchange(ref candidate.Busy, 1, 0) == 0) slot = candidate;
        }
        if (slot is null) return Outcome.Failed("change", 0, "no free conversation");
        try
        {
            var conversation = slot.Conversation;
            var adding = !slot.Member;
            var change = adding
                ? await api.PostAsync($"v1/conversations/{conversation.Id}/participants", conversation.Owner.Token, new { userId = slot.Candidate.Id }, ct).ConfigureAwait(false)
                : await api.SendAsync(HttpMethod.Delete, $"v1/conversations/{conversation.Id}/participants/{slot.Candidate.Id}", conversation.Owner.Token, ct: ct).ConfigureAwait(false);
            var operation = adding ? "add" : "remove";
            if (change.Status != (adding ? 201 : 204)) return Outcome.Failed(operation, change.Status);
            slot.Member = adding;

            var changedAt = Stopwatch.GetTimestamp();
            var wanted = adding ? 200 : 403;
            for (var attempt = 0; ; attempt++)
            {
                var read = await api.HistoryAsync(slot.Candidate, conversation.Id, 1, ct).ConfigureAwait(false);
                if (read.Status == wanted)
                {
                    if (context.Measuring) context.Histogram("invalidation").Record(Stopwatch.GetElapsedTime(changedAt));
                    break;
                }
                if (attempt == 0) context.Count("stale");
                if (read.Status is not (200 or 403) || Stopwatch.GetElapsedTime(changedAt) > PropagationLimit)
                    return Outcome.Failed(operation, read.Status, $"{operation} not visible after {PropagationLimit.TotalSeconds:0} s");
                await Task.Delay(1, ct).ConfigureAwait(false);
            }
            return Outcome.Ok(operation, change.Status);
        }
        finally
        {
            Volatile.Write(ref slot.Busy, 0);
        }
    }

    public Task VerifyAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;
}
