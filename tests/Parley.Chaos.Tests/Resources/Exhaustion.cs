using System.Diagnostics;
using Npgsql;
using Parley.Kit.Chaos.Invariants;
using Parley.Kit.Chaos.Nodes;
using Parley.Kit.Chaos.Scenarios;
using Parley.Kit.Chaos.Traffic;
using Parley.Kit.Load;

namespace Parley.Chaos.Tests.Resources;

/// <summary>
/// One node on a chaos environment with an owner, a member and their conversation, for a resource-exhaustion test: sends whose
/// answers it classifies, and the checks every such test ends with (every 201 stored once, each stored message with exactly one
/// outbox event, no 5xx but 503 with Retry-After, nothing hung).
/// </summary>
internal sealed class Exhaustion : IAsyncDisposable
{
    private int _sends;

    private Exhaustion(ChaosEnvironment env, ParleyNode node, ChaosApi api, ApiUser owner, ApiUser member, Guid conversation)
    {
        (Env, Node, Api, Owner, Member, Conversation) = (env, node, api, owner, member, conversation);
    }

    public ChaosEnvironment Env { get; }

    public ParleyNode Node { get; }

    public ChaosApi Api { get; }

    public ChaosLedger Ledger => Api.Ledger;

    public ApiUser Owner { get; }

    public ApiUser Member { get; }

    public Guid Conversation { get; }

    public static async Task<Exhaustion> StartAsync(
        ChaosEnvironment env, string id, IReadOnlyDictionary<string, string?>? overrides = null, int? openFileLimit = null)
    {
        var node = await ParleyNode.StartAsync(id, env.NodeSettings(id, overrides: overrides), openFileLimit: openFileLimit);
        try
        {
            var api = new ChaosApi(new ChaosLedger(), [node.BaseAddress]);
            var owner = await api.NewUserAsync("xo");
            var member = await api.NewUserAsync("xm");
            var conversation = await api.CreateConversationAsync(owner, [member]);
            return new Exhaustion(env, node, api, owner, member, conversation);
        }
        catch
        {
            await node.DisposeAsync();
            throw;
        }
    }

    /// <summary>One send with a fresh clientMessageId; returns its status (0: no HTTP answer).</summary>
    public Task<int> SendAsync(string? body = null) => Api.SendAsync(Owner, Conversation, $"x-{Interlocked.Increment(ref _sends)}", body);

    /// <summary>Sends until one gets 201 (every 0.5 s, at most <paramref name="tries"/>): the node recovered by itself.</summary>
    public async Task AssertRecoversAsync(string what, int tries = 120)
    {
        for (var i = 0; i < tries; i++)
        {
            if (await SendAsync() == 201) return;
            await Task.Delay(500);
        }
        Assert.Fail($"no send got 201 within {tries} tries after {what} was freed; last answers: {Statuses(Ledger.Requests.TakeLast(10))}");
    }

    /// <summary>Polls the node's readiness (every 0.25 s, at most 30 s) until <paramref name="check"/> reports <paramref name="status"/>.</summary>
    public async Task AssertReadyReportsAsync(string check, string status)
    {
        Dictionary<string, string>? ready = null;
        for (var i = 0; i < 120; i++)
        {
            ready = await Api.ReadyAsync();
            if (ready?.GetValueOrDefault(check) == status) return;
            await Task.Delay(250);
        }
        Assert.Fail($"/health/ready never reported {check} {status}; last: {(ready is null ? "no answer" : string.Join(", ", ready.Select(r => $"{r.Key}={r.Value}")))}");
    }

    /// <summary>
    /// The end of every test: each send that got no 201 is sent again with its clientMessageId (201 or an idempotent 200 now),
    /// then the invariants hold and each clientMessageId is stored at most once with exactly one message.created outbox event.
    /// </summary>
    public async Task AssertWholeAsync(TimeSpan deliverySettle)
    {
        var answered = Ledger.Sent.Select(m => m.ClientMessageId).ToHashSet();
        for (var i = 1; i <= _sends; i++)
        {
            var clientMessageId = $"x-{i}";
            if (answered.Contains(clientMessageId)) continue;
            var status = await Api.SendAsync(Owner, Conversation, clientMessageId);
            Assert.True(status is 200 or 201, $"the retry of {clientMessageId} after recovery got {status}");
        }
        var report = await InvariantChecker.CheckAsync(Ledger, Env.Stack.PrimaryConnectionString, (c, ct) => Api.ReadAllAsync(Owner, c, ct), deliverySettle);
        Assert.True(report.Passed, report.Describe());
        Assert.True(report.Acknowledged >= _sends, report.Describe());

        await using var db = NpgsqlDataSource.Create(Env.Stack.PrimaryConnectionString);
        await using var command = db.CreateCommand(
            """
            SELECT (SELECT count(*) FROM messages WHERE conversation_id = $1),
                   (SELECT count(DISTINCT client_message_id) FROM messages WHERE conversation_id = $1),
                   (SELECT count(*) FROM messages m WHERE m.conversation_id = $1
                      AND (SELECT count(*) FROM outbox o WHERE o.conversation_id = $1 AND o.type = 'message.created'
                             AND o.payload->'message'->>'id' = m.id::text) = 1),
                   (SELECT count(*) FROM outbox WHERE conversation_id = $1 AND type = 'message.created')
            """);
        command.Parameters.AddWithValue(Conversation);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (messages, distinct, withOneEvent, events) = (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3));
        Assert.True(messages == _sends && distinct == _sends && withOneEvent == _sends && events == _sends,
            $"{_sends} sends: {messages} messages, {distinct} clientMessageIds, {withOneEvent} with exactly one outbox event, {events} events");
    }

    /// <summary>Every answer is a 201 or a 503 with Retry-After: no 500, no hang, no other error.</summary>
    public static void AssertOnly201Or503(IEnumerable<RequestOutcome> outcomes, string during)
    {
        var bad = outcomes.Where(o => !(o.Status == 201 || o.Status == 503 && o.RetryAfter)).ToList();
        Assert.True(bad.Count == 0, $"during {during}, answers other than 201 or 503 + Retry-After: {Statuses(bad)}");
    }

    public static string Statuses(IEnumerable<RequestOutcome> outcomes) =>
        string.Join(", ", outcomes.GroupBy(o => (o.Status, o.RetryAfter, o.TimedOut, o.Error)).Select(g =>
            $"{g.Count()} x {(g.Key.TimedOut ? "timed out" : g.Key.Status == 0 ? $"no answer ({g.Key.Error})" : g.Key.Status.ToString())}{(g.Key.RetryAfter ? " + Retry-After" : "")}"));

    /// <summary>Runs a program (bounded to 60 s) and returns its output; throws when it fails.</summary>
    public static async Task<string> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        using var process = Process.Start(info)!;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        var output = process.StandardOutput.ReadToEndAsync(timeout.Token);
        var error = process.StandardError.ReadToEndAsync(timeout.Token);
        await process.WaitForExitAsync(timeout.Token);
        if (process.ExitCode != 0)
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await error}");
        return await output;
    }

    public async ValueTask DisposeAsync()
    {
        Api.Dispose();
        await Node.DisposeAsync();
    }
}
