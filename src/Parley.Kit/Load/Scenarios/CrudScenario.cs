using System.Collections.Concurrent;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// Conversation CRUD, 40% create / 30% list / 20% update / 10% delete. A quarter of the updates come from a user who
/// is not a participant (403 expected); the rest send the version last seen, which concurrent updates make stale
/// (409 expected). A quarter are a stale editor's: the owner sending the version one rename ago, as a client that read
/// before the other editor wrote, so every run sees 409s however fast the server answers. 403 and 409 count as correct,
/// not as errors, and the run checks that both were observed.
/// </summary>
public sealed class CrudScenario : ILoadScenario
{
    private const int Users = 20;
    private readonly ConcurrentDictionary<Guid, Tracked> _live = new();
    private readonly ConcurrentQueue<Guid> _deletable = new();
    private Fixture? _fixture;
    private Tracked[] _hot = [];

    public string Name => "crud";

    public string Description => "conversations: 40% create, 30% list, 20% update (stale If-Match → 409, non-participant → 403), 10% delete";

    public ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 1000, 256, TimeSpan.FromMinutes(1),
        ["p95<20ms", "errors<0.1%", "conflicts>0", "forbidden>0"],
        SeedTarget: "200 req/s, p95 < 50 ms cached / < 200 ms uncached, cache hit > 80%, 409 and 403 observed",
        SloTarget: "1,000 req/s, p95 < 20 ms cached, hit > 90%");

    private sealed class Tracked(FixtureConversation conversation)
    {
        public FixtureConversation Conversation { get; } = conversation;
        public int Version = 1;
    }

    public async Task SetupAsync(LoadContext context, CancellationToken ct)
    {
        _fixture = await Fixture.UsersAsync(context, Users, ct).ConfigureAwait(false);
        await _fixture.AddConversationsAsync(context, 100, k => [_fixture.Users[(k + 1) % Users], _fixture.Users[(k + 2) % Users]], ct).ConfigureAwait(false);
        // The first 16 are the hot set updates go to (never deleted), so concurrent updates make versions stale as the seed intends.
        _hot = _fixture.Conversations.Take(16).Select(c => new Tracked(c)).ToArray();
        foreach (var c in _fixture.Conversations.Skip(16)) Track(c);
        context.DeclareCounter("conflicts");
        context.DeclareCounter("forbidden");
    }

    private void Track(FixtureConversation c)
    {
        _live[c.Id] = new Tracked(c);
        _deletable.Enqueue(c.Id);
    }

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var fixture = _fixture!;
        var user = fixture.Users[(int)(iteration % Users)];
        var slot = iteration % 10;
        if (slot < 4)
        {
            var members = new[] { fixture.Users[(int)((iteration + 1) % Users)], fixture.Users[(int)((iteration + 2) % Users)] };
            var created = await api.PostAsync("v1/conversations", user.Token,
                new { title = $"crud {context.RunId} {iteration}", participantIds = members.Select(m => m.Id).ToArray() }, ct).ConfigureAwait(false);
            if (created.Status == 201) Track(new FixtureConversation(created.Json.GetProperty("id").GetGuid(), user, [user, .. members]));
            return Outcome.Classify("create", created.Status, [201]);
        }
        if (slot < 7)
        {
            var list = await api.GetAsync("v1/conversations?limit=20", user.Token, ct).ConfigureAwait(false);
            return Outcome.Classify("list", list.Status, [200]);
        }
        if (slot < 9)
        {
            var target = _hot[(int)(iteration / 10 % _hot.Length)];
            // Slot 7 is always the owner; slot 8 alternates between an outsider and the stale editor (decades 10d + 8).
            var outsider = iteration % 4 == 0;
            var staleEditor = slot == 8 && !outsider;
            var actor = outsider ? fixture.Users.First(u => target.Conversation.Members.All(m => m.Id != u.Id)) : target.Conversation.Owner;
            var version = Volatile.Read(ref target.Version);
            if (staleEditor && version > 1) version--;
            var updated = await api.SendAsync(HttpMethod.Patch, $"v1/conversations/{target.Conversation.Id}", actor.Token,
                new { title = $"renamed {iteration}" }, [("If-Match", $"\"{version}\"")], ct).ConfigureAwait(false);
            switch (updated.Status)
            {
                case 200:
                    var now = updated.Json.GetProperty("version").GetInt32();
                    int seen;
                    while ((seen = Volatile.Read(ref target.Version)) < now && Interlocked.CompareExchange(ref target.Version, now, seen) != seen)
                    {
                    }
                    break;
                case 409:
                    context.Count("conflicts");
                    break;
                case 403:
                    context.Count("forbidden");
                    break;
            }
            return outsider
                ? Outcome.Classify("update", updated.Status, [], [403])
                : Outcome.Classify("update", updated.Status, [200], [409]);
        }
        if (!_deletable.TryDequeue(out var id) || !_live.TryRemove(id, out var doomed))
            return Outcome.Expected("delete", 0);
        var deleted = await api.SendAsync(HttpMethod.Delete, $"v1/conversations/{id}", doomed.Conversation.Owner.Token, ct: ct).ConfigureAwait(false);
        return Outcome.Classify("delete", deleted.Status, [204]);
    }

    public Task VerifyAsync(LoadContext context, CancellationToken ct) => Task.CompletedTask;
}
