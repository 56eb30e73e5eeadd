using System.Text.Json.Nodes;

namespace Parley.Kit.Load;

/// <summary>
/// How a client reads a whole keyset-paged list of ../shared/API.md: following <c>nextCursor</c>, or, for a catch-up
/// after <c>resync.required</c>, paging with <c>after=</c>. Over any page reader (a failed page throws), so the load kit,
/// the chaos kit (which records every page) and the tests read the same way.
/// </summary>
public static class ApiPaging
{
    /// <summary>A page reader: the JSON object of a GET of the path; throws when there is none.</summary>
    public delegate Task<JsonObject> PageReader(string path, CancellationToken ct);

    /// <summary>The item ids of a list starting at <paramref name="firstPage"/> (a path with a query), following <c>nextCursor</c> for at most <paramref name="maxPages"/> pages.</summary>
    public static async Task<List<Guid>> IdsAsync(PageReader read, string firstPage, int maxPages, CancellationToken ct)
    {
        var ids = new List<Guid>();
        string? cursor = null;
        for (var page = 0; page < maxPages; page++)
        {
            ct.ThrowIfCancellationRequested();
            var body = await read(firstPage + (cursor is null ? "" : $"&cursor={Uri.EscapeDataString(cursor)}"), ct).ConfigureAwait(false);
            foreach (var item in body["items"]!.AsArray()) ids.Add(Guid.Parse(item!["id"]!.GetValue<string>()));
            cursor = body["nextCursor"]?.GetValue<string>();
            if (cursor is null) break;
        }
        return ids;
    }

    /// <summary>
    /// The ids of a conversation's messages, oldest first (at most 1,000 pages of 100): with <paramref name="after"/>, those
    /// newer than it as API.md tells a client to catch up (<c>after=</c>); without, the whole history.
    /// </summary>
    public static async Task<List<Guid>> MessageIdsAsync(PageReader read, Guid conversation, Guid? after, CancellationToken ct)
    {
        if (after is null)
        {
            var all = await IdsAsync(read, $"/v1/conversations/{conversation}/messages?limit=100", 1000, ct).ConfigureAwait(false);
            all.Reverse(); // newest first by cursor
            return all;
        }
        var ids = new List<Guid>();
        var last = after.Value;
        for (var page = 0; page < 1000; page++)
        {
            ct.ThrowIfCancellationRequested();
            var items = (await read($"/v1/conversations/{conversation}/messages?after={last}&limit=100", ct).ConfigureAwait(false))["items"]!.AsArray();
            foreach (var item in items) ids.Add(last = Guid.Parse(item!["id"]!.GetValue<string>()));
            if (items.Count < 100) break;
        }
        return ids;
    }
}
