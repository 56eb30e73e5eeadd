using System.Net;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using Parley.Server.Tests.Infrastructure;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Features;

/// <summary>Seed 000's "Keyset Pagination Correctness", through the public API.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class PaginationTests(ParleyFixture fixture)
{
    private static async Task<(List<string> Ids, string? Next)> Page(ApiClient api, ApiUser user, string path)
    {
        var response = await api.GetAsync(user, path);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await ApiClient.Json(response);
        return (body["items"]!.AsArray().Select(i => i!["id"]!.GetValue<string>()).ToList(), body["nextCursor"]?.GetValue<string>());
    }

    private static async Task<List<string>> SendMany(ApiClient api, ApiUser user, Guid conversation, int count)
    {
        var ids = new List<string>();
        for (var i = 0; i < count; i++) ids.Add((await api.SendMessageAsync(user, conversation, $"m{i}"))["id"]!.GetValue<string>());
        return ids;
    }

    [Fact]
    public async Task Paging_forward_returns_all_100_once_each_in_order()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        var sent = await SendMany(api, user, id, 100);

        var fetched = new List<string>();
        string? cursor = null;
        for (var page = 0; page < 10; page++)
        {
            var (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=10{(cursor is null ? "" : "&cursor=" + cursor)}");
            Assert.Equal(10, ids.Count);
            fetched.AddRange(ids);
            cursor = next;
        }
        Assert.Null(cursor);
        Assert.Equal(Enumerable.Reverse(sent), fetched);
    }

    [Fact]
    public async Task Paging_backward_with_after_returns_the_newer_messages_oldest_first()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        var sent = await SendMany(api, user, id, 35);

        var fetched = new List<string>();
        var (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?after={sent[4]}&limit=10");
        fetched.AddRange(ids);
        for (var guard = 0; next is not null && guard < 10; guard++)
        {
            (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=10&cursor={next}");
            fetched.AddRange(ids);
        }
        Assert.Equal(sent.Skip(5), fetched);
    }

    [Fact]
    public async Task A_concurrent_insert_during_paging_causes_no_repeat_or_skip()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        var sent = await SendMany(api, user, id, 30);

        var (fetched, cursor) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=10");
        await SendMany(api, user, id, 5); // newer rows arrive while the reader is on page 1
        while (cursor is not null)
        {
            var (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=10&cursor={cursor}");
            fetched.AddRange(ids);
            cursor = next;
        }
        Assert.Equal(Enumerable.Reverse(sent), fetched);
    }

    [Theory]
    [InlineData("not-a-cursor")]
    [InlineData("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")]
    [InlineData("%00%01")]
    public async Task Garbage_cursors_are_400(string cursor)
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var id = await api.CreateConversationAsync(user);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{id}/messages?cursor={cursor}"), HttpStatusCode.BadRequest);
    }

    [Fact]
    public async Task A_cursor_from_another_conversation_or_list_is_400()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var a = await api.CreateConversationAsync(user);
        var b = await api.CreateConversationAsync(user);
        await api.CreateConversationAsync(user);
        await SendMany(api, user, a, 3);
        var (_, cursor) = await Page(api, user, $"/v1/conversations/{a}/messages?limit=1");
        Assert.NotNull(cursor);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations/{b}/messages?cursor={cursor}"), HttpStatusCode.BadRequest);
        await ApiClient.AssertProblem(await api.GetAsync(user, $"/v1/conversations?cursor={cursor}"), HttpStatusCode.BadRequest);
    }

    [Property]
    public Property Cursors_round_trip_and_reject_any_single_byte_tampering()
    {
        var codec = new Parley.Data.Paging.CursorCodec(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        return Prop.ForAll(
            ArbMap.Default.ArbFor<DateTime>().Filter(d => d.Year > 1970 && d.Year < 3000),
            ArbMap.Default.ArbFor<Guid>(), ArbMap.Default.ArbFor<PositiveInt>(),
            (at, id, position) =>
            {
                var scope = Guid.NewGuid();
                var utc = DateTime.SpecifyKind(at, DateTimeKind.Utc);
                var cursor = new Parley.Data.Paging.Cursor(Parley.Data.Paging.CursorKind.HistoryOlder, utc, id);
                var text = codec.Encode(cursor, scope);
                var back = codec.Decode(text, scope, Parley.Data.Paging.CursorKind.HistoryOlder);
                var chars = text.ToCharArray();
                var i = position.Get % chars.Length;
                chars[i] = chars[i] == 'A' ? 'B' : 'A';
                var tampered = new string(chars);
                var rejected = false;
                try { codec.Decode(tampered, scope, Parley.Data.Paging.CursorKind.HistoryOlder); }
                catch (Parley.Data.Paging.InvalidCursorException) { rejected = true; }
                return back == cursor && rejected;
            });
    }

    /// <summary>One step of the property below: send some messages, or read the next page.</summary>
    public sealed record Step(bool Insert, int Count);

    [Fact]
    public async Task Random_interleavings_of_inserts_and_page_reads_never_repeat_or_skip()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var steps = Gen.ListOf(Gen.Elements(true, false).SelectMany(insert => Gen.Choose(1, 4).Select(n => new Step(insert, n))))
            .Select(l => l.Take(12).ToList());
        var failures = new List<string>();
        // FsCheck drives the shape; each sample runs against the real server.
        foreach (var sample in steps.Sample(12, size: 10))
        {
            var id = await api.CreateConversationAsync(user);
            var existing = await SendMany(api, user, id, 12);
            var fetched = new List<string>();
            string? cursor = null;
            var started = false;
            foreach (var step in sample.Append(new Step(false, 0)).Concat(Enumerable.Repeat(new Step(false, 0), 20)))
            {
                if (step.Insert) { await SendMany(api, user, id, step.Count); continue; }
                if (started && cursor is null) break;
                var (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=3{(cursor is null ? "" : "&cursor=" + cursor)}");
                if (!started)
                {
                    // Paging began here: rows that existed now must come exactly once, newer ones never.
                    existing = await AllIds(api, user, id);
                    started = true;
                }
                fetched.AddRange(ids);
                cursor = next;
            }
            var expected = existing;
            if (!fetched.SequenceEqual(expected))
                failures.Add($"steps [{string.Join(",", sample)}]: expected {expected.Count}, fetched {fetched.Count} ({fetched.Count - fetched.Distinct().Count()} repeats)");
        }
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    private static async Task<List<string>> AllIds(ApiClient api, ApiUser user, Guid id)
    {
        var all = new List<string>();
        string? cursor = null;
        do
        {
            var (ids, next) = await Page(api, user, $"/v1/conversations/{id}/messages?limit=100{(cursor is null ? "" : "&cursor=" + cursor)}");
            all.AddRange(ids);
            cursor = next;
        } while (cursor is not null);
        return all;
    }
}
