using Parley.Kit.Load;
namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// Users and conversations a scenario works on, made through the public API. Users have stable handles
/// (<c>load_0</c>, <c>load_1</c>, ...; the ones <c>parley load seed</c> writes too) so later runs only log in;
/// conversations are new per run.
/// </summary>
public sealed class Fixture
{
    public const string HandlePrefix = "load_";

    private Fixture(IReadOnlyList<ApiUser> users) => Users = users;

    public IReadOnlyList<ApiUser> Users { get; }

    public List<FixtureConversation> Conversations { get; } = [];

    /// <summary>Registers (or logs in) <paramref name="count"/> users, a few at a time (a login costs one password hash).</summary>
    public static async Task<Fixture> UsersAsync(LoadContext context, int count, CancellationToken ct)
    {
        context.Log($"logging in {count} users ...");
        var users = new ApiUser[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = ct },
            async (i, token) => users[i] = await context.Setup.RegisterAndLoginAsync($"{HandlePrefix}{i}", token).ConfigureAwait(false)).ConfigureAwait(false);
        return new Fixture(users);
    }

    /// <summary>
    /// Creates <paramref name="count"/> conversations; conversation k is owned by <paramref name="ownerOf"/>(k)
    /// (default: user k mod N) with <paramref name="membersOf"/>(k) as participants.
    /// </summary>
    public async Task AddConversationsAsync(LoadContext context, int count, Func<int, IEnumerable<ApiUser>> membersOf, CancellationToken ct,
        Func<int, ApiUser>? ownerOf = null)
    {
        context.Log($"creating {count} conversations ...");
        var created = new FixtureConversation[count];
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = ct }, async (k, token) =>
        {
            var owner = ownerOf?.Invoke(k) ?? Users[k % Users.Count];
            var members = membersOf(k).Where(u => u.Id != owner.Id).DistinctBy(u => u.Id).ToList();
            var id = await context.Setup.CreateConversationAsync(owner, $"load {context.RunId} #{k}", members.Select(m => m.Id), token).ConfigureAwait(false);
            created[k] = new FixtureConversation(id, owner, [owner, .. members]);
        }).ConfigureAwait(false);
        Conversations.AddRange(created);
    }

    /// <summary>Sends <paramref name="perConversation"/> messages into each of the first <paramref name="conversations"/> conversations (for history pages to read).</summary>
    public async Task FillAsync(LoadContext context, int conversations, int perConversation, int bodyBytes, CancellationToken ct)
    {
        context.Log($"sending {perConversation * conversations:N0} messages ...");
        var body = new string('m', bodyBytes);
        var work = Conversations.Take(conversations).SelectMany(c => Enumerable.Range(0, perConversation).Select(i => (c, i)));
        await Parallel.ForEachAsync(work, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = ct }, async (item, token) =>
        {
            var sender = item.c.Members[item.i % item.c.Members.Count];
            (await context.Setup.SendMessageAsync(sender, item.c.Id, body, $"fill-{item.i}", token).ConfigureAwait(false)).EnsureSuccess("fill message");
        }).ConfigureAwait(false);
    }
}

public sealed record FixtureConversation(Guid Id, ApiUser Owner, IReadOnlyList<ApiUser> Members);
