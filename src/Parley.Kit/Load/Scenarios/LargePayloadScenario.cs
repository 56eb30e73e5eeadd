using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using Parley.Kit.Load.Engine;

namespace Parley.Kit.Load.Scenarios;

/// <summary>
/// 64 KiB message bodies (65,536 UTF-8 bytes, the API's limit). Each 201's echoed body is compared byte for byte with
/// what was sent, and after the run the newest 100 messages of each conversation are read back through history and
/// compared again by SHA-256. Mismatches count as <c>corrupted</c>.
/// </summary>
public sealed class LargePayloadScenario : ILoadScenario
{
    public const int BodyBytes = 65_536;
    private static readonly byte[] Source = MakeSource();
    private readonly ConcurrentDictionary<Guid, byte[]> _sent = new();
    private Fixture? _fixture;

    public string Name => "large";

    public string Description => "POST 64 KiB bodies; verify every echo and a read-back through history byte for byte";

    public ScenarioDefaults Defaults { get; } = new(LoadModel.Open, 300, 64, TimeSpan.FromMinutes(1), ["corrupted==0", "errors<0.1%", "memory_growth<5%"],
        SeedTarget: "100 req/s, no corruption, memory growth < 10% in 15 min",
        SloTarget: "300 req/s, no corruption, memory growth < 5%");

    private static byte[] MakeSource()
    {
        var random = new Random(64);
        const string alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:!?-_";
        return Enumerable.Range(0, 2 * BodyBytes).Select(_ => (byte)alphabet[random.Next(alphabet.Length)]).ToArray();
    }

    /// <summary>The body of iteration n: a 64 KiB window into a random ASCII buffer, different for every n.</summary>
    internal static string BodyOf(long iteration) => Encoding.ASCII.GetString(Source, (int)(iteration * 7919 % BodyBytes), BodyBytes);

    public async Task SetupAsync(LoadContext context, CancellationToken ct)
    {
        _fixture = await Fixture.UsersAsync(context, 4, ct).ConfigureAwait(false);
        await _fixture.AddConversationsAsync(context, 8, _ => _fixture.Users, ct).ConfigureAwait(false);
        context.DeclareCounter("corrupted");
    }

    public async ValueTask<Outcome> RunOnceAsync(LoadContext context, ParleyApiClient api, long iteration, CancellationToken ct)
    {
        var fixture = _fixture!;
        var conversation = fixture.Conversations[(int)(iteration % fixture.Conversations.Count)];
        var body = BodyOf(iteration);
        var sent = await api.SendMessageAsync(conversation.Owner, conversation.Id, body, $"{context.RunId}-{iteration}", ct).ConfigureAwait(false);
        if (sent.Status != 201) return Outcome.Failed("send", sent.Status);
        var message = sent.Json;
        if (message.GetProperty("body").GetString() != body)
        {
            context.Count("corrupted");
            return Outcome.Failed("send", 201, "corrupted");
        }
        _sent[message.GetProperty("id").GetGuid()] = SHA256.HashData(Encoding.UTF8.GetBytes(body));
        return Outcome.Ok("send", 201);
    }

    public async Task VerifyAsync(LoadContext context, CancellationToken ct)
    {
        var checkedCount = 0;
        foreach (var conversation in _fixture!.Conversations)
        {
            var page = (await context.Setup.HistoryAsync(conversation.Owner, conversation.Id, 100, ct).ConfigureAwait(false)).EnsureSuccess("read back").Json;
            foreach (var message in page.GetProperty("items").EnumerateArray())
            {
                if (!_sent.TryGetValue(message.GetProperty("id").GetGuid(), out var hash)) continue;
                checkedCount++;
                if (!SHA256.HashData(Encoding.UTF8.GetBytes(message.GetProperty("body").GetString() ?? "")).AsSpan().SequenceEqual(hash))
                    context.Count("corrupted");
            }
        }
        context.Log($"read back {checkedCount:N0} stored 64 KiB messages (of {_sent.Count:N0} sent), each compared by SHA-256");
    }
}
