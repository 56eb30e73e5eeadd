using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Parley.Server.Tests.Infrastructure;
using Xunit.Abstractions;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Features;

/// <summary>
/// One bad request of the table. <see cref="Path"/> and <see cref="Body"/> hold placeholders that
/// <see cref="BadInputTests"/> fills per case ({conv}, {other}, {msg}, ...). The body is kept as
/// Latin-1 (one char per byte) so a case can carry bytes that are not UTF-8.
/// </summary>
public sealed record BadCase(string Class, string Name, string Method, string Path, string? Body, int Status,
    bool FieldError = false, string? IfMatch = null, string ContentType = "application/json", bool Admin = false, bool WebSocket = false,
    bool Kestrel = false)
{
    public override string ToString() => $"{Class}: {Name}";
}

/// <summary>
/// Bad input gets a clear 4xx problem+json and changes nothing: every endpoint that takes input ×
/// every class of bad input (<see cref="Table"/>), each case checked for the status, a problem body
/// (with <c>errors</c> for field faults), unchanged rows of everything the case's users own, and a
/// server that still answers health and a good request.
/// </summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class BadInputTests(ParleyFixture fixture)
{
    private const string Password = "correct horse";

    public static IEnumerable<object[]> Cases() => Table.Select(c => new object[] { c.ToString() });

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task A_bad_request_is_a_4xx_problem_that_changes_nothing(string name)
    {
        var bad = Table.Single(c => c.ToString() == name);
        using var api = fixture.Client();
        var context = await CaseContext.CreateAsync(api, bad.Admin ? await fixture.AdminAsync(api) : null);
        await using var db = fixture.OpenPrimary();
        var before = await context.SnapshotAsync(db, api);

        var response = await SendAsync(api, context, bad);
        if (bad.Kestrel)
        {
            Assert.Equal((HttpStatusCode)bad.Status, response.StatusCode);
            Assert.Equal("", await response.Content.ReadAsStringAsync());
        }
        var problem = bad.Kestrel ? new JsonObject() : await ApiClient.AssertProblem(response, (HttpStatusCode)bad.Status);
        if (bad.FieldError)
            Assert.True(problem["errors"] is JsonObject { Count: > 0 }, $"a field error in errors: {problem.ToJsonString()}");
        if (bad.Status == 422)
        {
            Assert.Equal("urn:parley:problem:client-message-id-reused", problem["type"]!.GetValue<string>());
            Assert.Equal(context.Message.ToString(), problem["messageId"]!.GetValue<string>());
        }

        Assert.Equal(before, await context.SnapshotAsync(db, api));
        Assert.Equal(HttpStatusCode.OK, (await api.Http.GetAsync("/health/ready")).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(context.Owner, $"/v1/conversations/{context.Conversation}/messages", new { body = "still fine" })).StatusCode);
    }

    private static async Task<HttpResponseMessage> SendAsync(ApiClient api, CaseContext context, BadCase bad)
    {
        var request = new HttpRequestMessage(new HttpMethod(bad.Method), context.Fill(bad.Path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", (bad.Admin ? context.Admin! : context.Owner).Token);
        if (bad.Body is not null)
        {
            request.Content = new ByteArrayContent(Encoding.Latin1.GetBytes(context.Fill(bad.Body)));
            if (bad.ContentType.Length > 0) request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(bad.ContentType);
        }
        if (bad.IfMatch is not null) request.Headers.TryAddWithoutValidation("If-Match", bad.IfMatch);
        if (bad.WebSocket)
        {
            request.Headers.Connection.Add("Upgrade");
            request.Headers.Upgrade.Add(new ProductHeaderValue("websocket"));
            request.Headers.Add("Sec-WebSocket-Version", "13");
            request.Headers.Add("Sec-WebSocket-Key", Convert.ToBase64String(Guid.NewGuid().ToByteArray()));
        }
        return await api.Http.SendAsync(request);
    }

    /// <summary>The users, conversations, messages and cursors one case works on, all its own.</summary>
    private sealed record CaseContext(
        ApiUser Owner, ApiUser Member, ApiUser Outsider, ApiUser? Admin, string NewHandle,
        Guid Conversation, Guid OtherConversation, Guid Message, Guid OtherMessage, string HistoryCursor, string ListCursor)
    {
        public static async Task<CaseContext> CreateAsync(ApiClient api, ApiUser? admin)
        {
            var owner = await api.NewUserAsync("bad");
            var member = await api.NewUserAsync("bad");
            var outsider = await api.NewUserAsync("bad");
            var conversation = await api.CreateConversationAsync(owner, member);
            var other = await api.CreateConversationAsync(owner);
            var message = Guid.Parse((await api.SendMessageAsync(owner, conversation, "hello", "cm-1"))["id"]!.GetValue<string>());
            await api.SendMessageAsync(member, conversation, "hi back");
            var otherMessage = Guid.Parse((await api.SendMessageAsync(owner, other, "elsewhere"))["id"]!.GetValue<string>());
            var history = await ApiClient.Json(await api.GetAsync(owner, $"/v1/conversations/{conversation}/messages?limit=1"));
            var list = await ApiClient.Json(await api.GetAsync(owner, "/v1/conversations?limit=1"));
            return new CaseContext(owner, member, outsider, admin, ApiClient.UniqueHandle("new"), conversation, other, message, otherMessage,
                history["nextCursor"]!.GetValue<string>(), list["nextCursor"]!.GetValue<string>());
        }

        public string Fill(string template)
        {
            var tampered = ListCursor[..^1] + (ListCursor[^1] == 'A' ? 'B' : 'A');
            return template
                .Replace("{conv}", Conversation.ToString(), StringComparison.Ordinal)
                .Replace("{otherConv}", OtherConversation.ToString(), StringComparison.Ordinal)
                .Replace("{msg}", Message.ToString(), StringComparison.Ordinal)
                .Replace("{otherMsg}", OtherMessage.ToString(), StringComparison.Ordinal)
                .Replace("{member}", Member.Id.ToString(), StringComparison.Ordinal)
                .Replace("{other}", Outsider.Id.ToString(), StringComparison.Ordinal)
                .Replace("{random}", Guid.NewGuid().ToString(), StringComparison.Ordinal)
                .Replace("{handle}", Owner.Handle, StringComparison.Ordinal)
                .Replace("{h}", NewHandle, StringComparison.Ordinal)
                .Replace("{historyCursor}", Uri.EscapeDataString(HistoryCursor), StringComparison.Ordinal)
                .Replace("{listCursor}", Uri.EscapeDataString(ListCursor), StringComparison.Ordinal)
                .Replace("{tamperedCursor}", Uri.EscapeDataString(tampered), StringComparison.Ordinal);
        }

        /// <summary>Every row the case could have touched, as one string: users by handle, both conversations with versions and titles, their participants with read markers, messages and outbox rows; plus the flags and the API's view.</summary>
        public async Task<string> SnapshotAsync(Npgsql.NpgsqlDataSource db, ApiClient api)
        {
            await using var cmd = db.CreateCommand("""
                SELECT concat_ws(' | ',
                  (SELECT count(*) FROM users WHERE position($1 in handle) > 0 OR id = ANY($2)),
                  (SELECT string_agg(id || ':' || display_name, ',' ORDER BY id) FROM users WHERE id = ANY($2)),
                  (SELECT string_agg(id || ':' || version || ':' || coalesce(title, '') || ':' || coalesce(deleted_at::text, '-'), ',' ORDER BY id) FROM conversations WHERE owner_id = ANY($2)),
                  (SELECT string_agg(conversation_id || ':' || user_id || ':' || role || ':' || coalesce(last_read_message_id::text, '-'), ',' ORDER BY conversation_id, user_id) FROM participants WHERE user_id = ANY($2)),
                  (SELECT count(*) || ':' || coalesce(string_agg(id::text || body, ',' ORDER BY id), '') FROM messages WHERE conversation_id = ANY($3)),
                  (SELECT count(*) FROM outbox WHERE conversation_id = ANY($3)),
                  (SELECT string_agg(name || ':' || enabled || ':' || percentage, ',' ORDER BY name) FROM feature_flags),
                  (SELECT string_agg(id || ':' || coalesce(revoked_at::text, '-'), ',' ORDER BY id) FROM auth_sessions WHERE user_id = ANY($2)))
                """);
            cmd.Parameters.Add(new() { Value = NewHandle });
            cmd.Parameters.Add(new() { Value = new[] { Owner.Id, Member.Id, Outsider.Id } });
            cmd.Parameters.Add(new() { Value = new[] { Conversation, OtherConversation } });
            var rows = (string)(await cmd.ExecuteScalarAsync())!;
            var view = await (await api.GetAsync(Owner, $"/v1/conversations/{Conversation}")).Content.ReadAsStringAsync();
            return rows + " | " + view;
        }
    }

    // ---- the table ----

    /// <summary>A text field: the endpoint, its body with <c>@V@</c> where the bad text goes, and its If-Match when it needs one.</summary>
    private sealed record TextSite(string Endpoint, string Field, string Method, string Path, string Template, string? IfMatch = null);

    private static readonly TextSite[] TextSites =
    [
        new("register", "handle", "POST", "/v1/auth/register", """{"handle":"{h}@V@","password":"correct horse"}"""),
        new("register", "password", "POST", "/v1/auth/register", """{"handle":"{h}","password":"correct @V@horse"}"""),
        new("register", "displayName", "POST", "/v1/auth/register", """{"handle":"{h}","password":"correct horse","displayName":"Dee @V@"}"""),
        new("login", "handle", "POST", "/v1/auth/login", """{"handle":"{handle}@V@","password":"correct horse"}"""),
        new("login", "password", "POST", "/v1/auth/login", """{"handle":"{handle}","password":"correct horse@V@"}"""),
        new("create", "title", "POST", "/v1/conversations", """{"title":"t @V@","participantIds":[]}"""),
        new("patch", "title", "PATCH", "/v1/conversations/{conv}", """{"title":"t @V@"}""", "\"1\""),
        new("send", "body", "POST", "/v1/conversations/{conv}/messages", """{"body":"hi @V@ there","clientMessageId":"c-new"}"""),
        new("send", "clientMessageId", "POST", "/v1/conversations/{conv}/messages", """{"body":"hi","clientMessageId":"c-@V@"}"""),
        new("refresh", "refreshToken", "POST", "/v1/auth/refresh", """{"refreshToken":"abc@V@def"}"""),
    ];

    /// <summary>The endpoints with a JSON body: a good body each, for the structural classes.</summary>
    private static readonly (string Endpoint, string Method, string Path, string Body, string? IfMatch, bool Admin)[] JsonSites =
    [
        ("register", "POST", "/v1/auth/register", """{"handle":"{h}","password":"correct horse"}""", null, false),
        ("login", "POST", "/v1/auth/login", """{"handle":"{handle}","password":"correct horse"}""", null, false),
        ("create", "POST", "/v1/conversations", """{"title":"t","participantIds":["{member}"]}""", null, false),
        ("patch", "PATCH", "/v1/conversations/{conv}", """{"title":"t2"}""", "\"1\"", false),
        ("send", "POST", "/v1/conversations/{conv}/messages", """{"body":"hi","clientMessageId":"c-new"}""", null, false),
        ("read", "POST", "/v1/conversations/{conv}/read", """{"messageId":"{msg}"}""", null, false),
        ("add", "POST", "/v1/conversations/{conv}/participants", """{"userId":"{other}"}""", null, false),
        ("flags", "PUT", "/v1/admin/flags/bad.input.flag", """{"enabled":true,"percentage":50}""", null, true),
        ("refresh", "POST", "/v1/auth/refresh", """{"refreshToken":"not-a-token"}""", null, false),
    ];

    // Latin-1 strings of raw bytes, for invalid UTF-8 inside a JSON string.
    private static string Bytes(params byte[] bytes) => Encoding.Latin1.GetString(bytes);

    // UTF-8 text as Latin-1 (one char per byte), so it survives the Latin-1 encoding of the body.
    private static string Utf8(string text) => Encoding.Latin1.GetString(Encoding.UTF8.GetBytes(text));

    private static readonly (string Class, string Label, string Json, TextKind[] Kinds)[] TextValues =
    [
        ("nul", "escaped \\u0000", "\\u0000", [TextKind.Multi, TextKind.Single]),
        ("nul", "escaped \\u0000 at the end", "x\\u0000", [TextKind.Multi, TextKind.Single]),
        ("nul", "a raw NUL byte", Bytes(0), [TextKind.Multi, TextKind.Single]),
        ("control", "U+0001", "\\u0001", [TextKind.Multi, TextKind.Single]),
        ("control", "ESC", "\\u001b", [TextKind.Multi, TextKind.Single]),
        ("control", "DEL", "\\u007f", [TextKind.Multi, TextKind.Single]),
        ("control", "C1 NEL", "\\u0085", [TextKind.Multi, TextKind.Single]),
        ("control", "LF in one-line text", "\\n", [TextKind.Single]),
        ("control", "TAB in one-line text", "\\t", [TextKind.Single]),
        ("control", "CR in one-line text", "\\r", [TextKind.Single]),
        ("noncharacter", "U+FFFE", "\\ufffe", [TextKind.Multi, TextKind.Single]),
        ("noncharacter", "U+FFFF", "\\uffff", [TextKind.Multi, TextKind.Single]),
        ("noncharacter", "U+FDD0", "\\ufdd0", [TextKind.Multi, TextKind.Single]),
        ("noncharacter", "U+1FFFE", "\\ud83f\\udffe", [TextKind.Multi, TextKind.Single]),
        ("noncharacter", "U+FFFF as raw UTF-8", Utf8("\uffff"), [TextKind.Multi, TextKind.Single]),
        ("lone-surrogate", "high \\ud800", "\\ud800", [TextKind.Multi, TextKind.Single]),
        ("lone-surrogate", "low \\udfff", "\\udfff", [TextKind.Multi, TextKind.Single]),
        ("lone-surrogate", "reversed pair", "\\udc00\\ud800", [TextKind.Multi, TextKind.Single]),
        ("invalid-utf8", "byte FF", Bytes(0xFF), [TextKind.Multi, TextKind.Single]),
        ("invalid-utf8", "overlong C0 AF", Bytes(0xC0, 0xAF), [TextKind.Multi, TextKind.Single]),
        ("invalid-utf8", "encoded surrogate ED A0 80", Bytes(0xED, 0xA0, 0x80), [TextKind.Multi, TextKind.Single]),
        ("invalid-utf8", "truncated E2 82", Bytes(0xE2, 0x82), [TextKind.Multi, TextKind.Single]),
        ("invalid-utf8", "beyond U+10FFFF F4 90 80 80", Bytes(0xF4, 0x90, 0x80, 0x80), [TextKind.Multi, TextKind.Single]),
    ];

    private enum TextKind
    {
        Multi,
        Single,
    }

    private static readonly string Deep = new string('[', 70) + new string(']', 70);

    public static readonly IReadOnlyList<BadCase> Table = Build();

    private static List<BadCase> Build()
    {
        var t = new List<BadCase>();

        // Characters in every text field (bodies are multi-line, the rest one line).
        foreach (var site in TextSites)
        {
            var kind = site.Field == "body" ? TextKind.Multi : TextKind.Single;
            foreach (var value in TextValues.Where(v => v.Kinds.Contains(kind)))
                t.Add(new(value.Class, $"{site.Endpoint} {site.Field}: {value.Label}", site.Method, site.Path, site.Template.Replace("@V@", value.Json, StringComparison.Ordinal), 400,
                    FieldError: true, IfMatch: site.IfMatch));
        }

        // Structure: wrong JSON types, nesting past the reader's depth, malformed JSON, missing fields.
        foreach (var (endpoint, method, path, body, ifMatch, admin) in JsonSites)
        {
            t.Add(new("nesting", $"{endpoint} 70 levels in an extra property", method, path, body[..^1] + ",\"extra\":" + Deep + "}", 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("malformed-json", $"{endpoint} truncated", method, path, body[..^3], 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("malformed-json", $"{endpoint} trailing comma", method, path, body[..^1] + ",}", 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("malformed-json", $"{endpoint} a duplicate property", method, path, body[..^1] + "," + body[1..], 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("wrong-type", $"{endpoint} an array at the root", method, path, "[" + body + "]", 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("wrong-type", $"{endpoint} a string at the root", method, path, "\"text\"", 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("wrong-type", $"{endpoint} null at the root", method, path, "null", 400, IfMatch: ifMatch, Admin: admin));
            t.Add(new("media-type", $"{endpoint} as text/plain", method, path, body, 415, IfMatch: ifMatch, ContentType: "text/plain", Admin: admin));
            t.Add(new("media-type", $"{endpoint} as a form", method, path, "a=b", 415, IfMatch: ifMatch, ContentType: "application/x-www-form-urlencoded", Admin: admin));
            t.Add(new("oversize", $"{endpoint} a request over 256 KiB", method, path, body[..^1] + ",\"pad\":\"" + new string('p', 300 * 1024) + "\"}", 413, IfMatch: ifMatch, Admin: admin));
        }
        // An empty object is a valid create (no title, no one else) and a valid PATCH (clears the title).
        foreach (var (endpoint, method, path, _, ifMatch, admin) in JsonSites.Where(s => s.Endpoint is not ("create" or "patch")))
            t.Add(new("missing", $"{endpoint} an empty object", method, path, "{}", 400, FieldError: true, IfMatch: ifMatch, Admin: admin));

        void Typed(string endpoint, string method, string path, string body, string? ifMatch = null, bool admin = false) =>
            t.Add(new("wrong-type", $"{endpoint} {body}", method, path, body, 400, FieldError: true, IfMatch: ifMatch, Admin: admin));
        Typed("register", "POST", "/v1/auth/register", """{"handle":123,"password":"correct horse"}""");
        Typed("register", "POST", "/v1/auth/register", """{"handle":"{h}","password":true}""");
        Typed("register", "POST", "/v1/auth/register", """{"handle":"{h}","password":"correct horse","displayName":{}}""");
        Typed("login", "POST", "/v1/auth/login", """{"handle":["a"],"password":"correct horse"}""");
        Typed("login", "POST", "/v1/auth/login", """{"handle":"{handle}","password":12345678}""");
        Typed("create", "POST", "/v1/conversations", """{"title":5,"participantIds":[]}""");
        Typed("create", "POST", "/v1/conversations", """{"participantIds":"nope"}""");
        Typed("create", "POST", "/v1/conversations", """{"participantIds":[1]}""");
        Typed("create", "POST", "/v1/conversations", """{"participantIds":{"a":"{member}"}}""");
        Typed("patch", "PATCH", "/v1/conversations/{conv}", """{"title":["x"]}""", "\"1\"");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":42}""");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":["a"]}""");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":{"text":"hi"}}""");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":true}""");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":null}""");
        Typed("send", "POST", "/v1/conversations/{conv}/messages", """{"body":"x","clientMessageId":7}""");
        Typed("read", "POST", "/v1/conversations/{conv}/read", """{"messageId":5}""");
        Typed("read", "POST", "/v1/conversations/{conv}/read", """{"messageId":true}""");
        Typed("add", "POST", "/v1/conversations/{conv}/participants", """{"userId":5}""");
        Typed("add", "POST", "/v1/conversations/{conv}/participants", """{"userId":["{other}"]}""");
        Typed("flags", "PUT", "/v1/admin/flags/bad.input.flag", """{"enabled":"yes"}""", admin: true);
        Typed("flags", "PUT", "/v1/admin/flags/bad.input.flag", """{"enabled":true,"percentage":"50"}""", admin: true);
        Typed("flags", "PUT", "/v1/admin/flags/bad.input.flag", """{"enabled":true,"percentage":50.5}""", admin: true);
        t.Add(new("nesting", "send body 70 levels deep", "POST", "/v1/conversations/{conv}/messages", "{\"body\":" + Deep + "}", 400));
        t.Add(new("nesting", "create title 70 objects deep", "POST", "/v1/conversations",
            "{\"title\":" + string.Concat(Enumerable.Repeat("{\"a\":", 70)) + "1" + new string('}', 70) + ",\"participantIds\":[]}", 400));
        t.Add(new("malformed-json", "send single quotes", "POST", "/v1/conversations/{conv}/messages", "{body: 'hi'}", 400));
        t.Add(new("malformed-json", "send a comment", "POST", "/v1/conversations/{conv}/messages", """{"body":"hi" /* c */}""", 400));
        t.Add(new("malformed-json", "send trailing garbage", "POST", "/v1/conversations/{conv}/messages", """{"body":"hi"} x""", 400));
        t.Add(new("malformed-json", "send an empty body", "POST", "/v1/conversations/{conv}/messages", "", 400));
        t.Add(new("malformed-json", "send NaN", "POST", "/v1/conversations/{conv}/messages", """{"body":NaN}""", 400));
        t.Add(new("malformed-json", "send a UTF-8 BOM twice", "POST", "/v1/conversations/{conv}/messages", Bytes(0xEF, 0xBB, 0xBF, 0xEF, 0xBB, 0xBF) + """{"body":"hi"}""", 400));

        // Sizes.
        t.Add(new("oversize", "send body 65,537 bytes", "POST", "/v1/conversations/{conv}/messages", "{\"body\":\"" + new string('a', 65_537) + "\"}", 413));
        t.Add(new("oversize", "send body 21,846 three-byte characters", "POST", "/v1/conversations/{conv}/messages", "{\"body\":\"" + Utf8(new string('€', 21_846)) + "\"}", 413));
        t.Add(new("oversize", "send body 16,385 escaped emoji", "POST", "/v1/conversations/{conv}/messages", "{\"body\":\"" + string.Concat(Enumerable.Repeat("\\ud83d\\ude00", 16_385)) + "\"}", 413));
        t.Add(new("oversize", "send clientMessageId 129 characters", "POST", "/v1/conversations/{conv}/messages", $$"""{"body":"hi","clientMessageId":"{{new string('c', 129)}}"}""", 400, FieldError: true));
        t.Add(new("oversize", "create title 201 characters", "POST", "/v1/conversations", $$"""{"title":"{{new string('t', 201)}}","participantIds":[]}""", 400, FieldError: true));
        t.Add(new("oversize", "patch title 201 characters", "PATCH", "/v1/conversations/{conv}", $$"""{"title":"{{new string('t', 201)}}"}""", 400, FieldError: true, IfMatch: "\"1\""));
        t.Add(new("oversize", "create 1,001 participants", "POST", "/v1/conversations",
            "{\"participantIds\":[" + string.Join(",", Enumerable.Range(0, 1001).Select(i => $"\"{new Guid(i, 0, 0, new byte[8])}\"")) + "]}", 400, FieldError: true));
        t.Add(new("oversize", "register displayName 65 characters", "POST", "/v1/auth/register", $$"""{"handle":"{h}","password":"correct horse","displayName":"{{new string('d', 65)}}"}""", 400, FieldError: true));
        t.Add(new("oversize", "register password 1,025 characters", "POST", "/v1/auth/register", $$"""{"handle":"{h}","password":"{{new string('p', 1025)}}"}""", 400, FieldError: true));
        t.Add(new("oversize", "register handle 33 characters", "POST", "/v1/auth/register", $$"""{"handle":"{{new string('h', 33)}}","password":"correct horse"}""", 400, FieldError: true));
        t.Add(new("oversize", "login password 1,025 characters", "POST", "/v1/auth/login", $$"""{"handle":"{handle}","password":"{{new string('p', 1025)}}"}""", 400, FieldError: true));
        t.Add(new("oversize", "flags name 101 characters", "PUT", "/v1/admin/flags/" + new string('f', 101), """{"enabled":true}""", 400, FieldError: true, Admin: true));

        // Handles match the whole string.
        foreach (var (label, handle) in new[]
                 {
                     ("a trailing LF", "{h}\\n"), ("a trailing CRLF", "{h}\\r\\n"), ("a leading space", " {h}"), ("a trailing space", "{h} "),
                     ("upper case", "Upper{h}"), ("two characters", "ab"), ("a slash", "{h}/x"), ("a Cyrillic a", "\\u0430{h}"),
                     ("a zero-width space", "{h}\\u200b"), ("empty", ""),
                 })
            t.Add(new("handle", $"register handle with {label}", "POST", "/v1/auth/register", $$"""{"handle":"{{handle}}","password":"correct horse"}""", 400, FieldError: true));
        t.Add(new("bad-value", "register password of 7 characters", "POST", "/v1/auth/register", """{"handle":"{h}","password":"1234567"}""", 400, FieldError: true));
        t.Add(new("bad-value", "register blank displayName", "POST", "/v1/auth/register", """{"handle":"{h}","password":"correct horse","displayName":"  "}""", 400, FieldError: true));
        foreach (var name in new[] { "UPPER", "a%20b", "x%0A" })
            t.Add(new("bad-id", $"flags name {name}", "PUT", "/v1/admin/flags/" + name, """{"enabled":true}""", 400, FieldError: true, Admin: true));
        t.Add(new("bad-id", "flags name %00 (Kestrel)", "PUT", "/v1/admin/flags/%00", """{"enabled":true}""", 400, Admin: true, Kestrel: true));
        t.Add(new("bad-id", "get %00 (Kestrel)", "GET", "/v1/conversations/%00", null, 400, Kestrel: true));

        // Ids in paths and bodies.
        t.Add(new("bad-id", "get not-a-uuid", "GET", "/v1/conversations/not-a-uuid", null, 404));
        t.Add(new("bad-id", "get a uuid with a suffix", "GET", "/v1/conversations/{conv}x", null, 404));
        t.Add(new("bad-id", "get the empty uuid", "GET", "/v1/conversations/00000000-0000-0000-0000-000000000000", null, 404));
        t.Add(new("bad-id", "patch not-a-uuid", "PATCH", "/v1/conversations/not-a-uuid", """{"title":"x"}""", 404, IfMatch: "\"1\""));
        t.Add(new("bad-id", "patch an unknown conversation", "PATCH", "/v1/conversations/{random}", """{"title":"x"}""", 404, IfMatch: "\"1\""));
        t.Add(new("bad-id", "delete 123", "DELETE", "/v1/conversations/123", null, 404));
        t.Add(new("bad-id", "delete an unknown conversation", "DELETE", "/v1/conversations/{random}", null, 404));
        t.Add(new("bad-id", "participants of not-a-uuid", "GET", "/v1/conversations/not-a-uuid/participants", null, 404));
        t.Add(new("bad-id", "remove not-a-uuid", "DELETE", "/v1/conversations/{conv}/participants/not-a-uuid", null, 404));
        t.Add(new("bad-id", "remove a non-participant", "DELETE", "/v1/conversations/{conv}/participants/{other}", null, 404));
        t.Add(new("bad-id", "create participantIds not-a-uuid", "POST", "/v1/conversations", """{"participantIds":["not-a-uuid"]}""", 400, FieldError: true));
        t.Add(new("bad-id", "create an unknown user id", "POST", "/v1/conversations", """{"participantIds":["{random}"]}""", 400, FieldError: true));
        t.Add(new("bad-id", "add userId nope", "POST", "/v1/conversations/{conv}/participants", """{"userId":"nope"}""", 400, FieldError: true));
        t.Add(new("bad-id", "add an unknown user", "POST", "/v1/conversations/{conv}/participants", """{"userId":"{random}"}""", 404));
        t.Add(new("bad-id", "add a participant again", "POST", "/v1/conversations/{conv}/participants", """{"userId":"{member}"}""", 409));
        t.Add(new("bad-id", "read messageId nope", "POST", "/v1/conversations/{conv}/read", """{"messageId":"nope"}""", 400, FieldError: true));
        t.Add(new("bad-id", "read an unknown message", "POST", "/v1/conversations/{conv}/read", """{"messageId":"{random}"}""", 404));
        t.Add(new("bad-id", "read another conversation's message", "POST", "/v1/conversations/{conv}/read", """{"messageId":"{otherMsg}"}""", 404));
        t.Add(new("bad-id", "send to not-a-uuid", "POST", "/v1/conversations/not-a-uuid/messages", """{"body":"hi"}""", 404));
        t.Add(new("bad-id", "send to an unknown conversation", "POST", "/v1/conversations/{random}/messages", """{"body":"hi"}""", 404));
        t.Add(new("bad-id", "history after=not-a-uuid", "GET", "/v1/conversations/{conv}/messages?after=not-a-uuid", null, 400, FieldError: true));
        t.Add(new("bad-id", "history after an unknown message", "GET", "/v1/conversations/{conv}/messages?after={random}", null, 400));
        t.Add(new("bad-id", "history after another conversation's message", "GET", "/v1/conversations/{conv}/messages?after={otherMsg}", null, 400));
        t.Add(new("bad-id", "send an unknown route", "POST", "/v1/conversations/{conv}/mesages", """{"body":"hi"}""", 404));

        // Cursors: garbage, NUL, tampered, another endpoint's, another conversation's, too long.
        foreach (var (endpoint, path) in new[] { ("list", "/v1/conversations"), ("history", "/v1/conversations/{conv}/messages") })
        {
            foreach (var (label, cursor) in new[] { ("garbage", "garbage"), ("NUL", "%00"), ("tampered", "{tamperedCursor}"), ("4,000 characters", new string('A', 4_000)), ("a lone surrogate", "%ED%A0%80") })
                t.Add(new("bad-cursor", $"{endpoint} cursor {label}", "GET", $"{path}?cursor={cursor}", null, 400, FieldError: true));
        }
        t.Add(new("bad-cursor", "history cursor 10,000 characters (Kestrel: request line over 8 KiB)", "GET", "/v1/conversations/{conv}/messages?cursor=" + new string('A', 10_000), null, 414, Kestrel: true));
        t.Add(new("bad-cursor", "list cursor from history", "GET", "/v1/conversations?cursor={historyCursor}", null, 400, FieldError: true));
        t.Add(new("bad-cursor", "history cursor from the list", "GET", "/v1/conversations/{conv}/messages?cursor={listCursor}", null, 400, FieldError: true));
        t.Add(new("bad-cursor", "history cursor of another conversation", "GET", "/v1/conversations/{otherConv}/messages?cursor={historyCursor}", null, 400, FieldError: true));
        t.Add(new("bad-cursor", "history older-cursor with after", "GET", "/v1/conversations/{conv}/messages?after={msg}&cursor={historyCursor}", null, 400, FieldError: true));

        // limit: 1..100.
        foreach (var (endpoint, path) in new[] { ("list", "/v1/conversations"), ("history", "/v1/conversations/{conv}/messages") })
        {
            foreach (var limit in new[] { "0", "-1", "101", "abc", "1.5", "99999999999", "%00", "1e2" })
                t.Add(new("bad-limit", $"{endpoint} limit={limit}", "GET", $"{path}?limit={limit}", null, 400));
        }

        // Search: q follows the single-line text rules and is 1–256 characters; cursor (signed per user and query) and limit as for every list.
        foreach (var (cls, label, q) in new[]
                 {
                     ("nul", "NUL", "%00"), ("control", "BEL", "%07"), ("noncharacter", "U+FDD0", "%EF%B7%90"),
                     ("missing", "empty", ""), ("missing", "blank", "%20%20"), ("oversize", "257 characters", new string('q', 257)),
                 })
            t.Add(new(cls, $"search q {label}", "GET", $"/v1/search/messages?q={q}", null, 400, FieldError: true));
        t.Add(new("missing", "search without q", "GET", "/v1/search/messages", null, 400, FieldError: true));
        foreach (var (label, cursor) in new[] { ("garbage", "garbage"), ("NUL", "%00"), ("tampered", "{tamperedCursor}"), ("from history", "{historyCursor}") })
            t.Add(new("bad-cursor", $"search cursor {label}", "GET", $"/v1/search/messages?q=hello&cursor={cursor}", null, 400, FieldError: true));
        foreach (var limit in new[] { "0", "101", "abc" })
            t.Add(new("bad-limit", $"search limit={limit}", "GET", $"/v1/search/messages?q=hello&limit={limit}", null, 400));

        // If-Match: strong comparison; malformed is 400, weak or other tags 409, none 428.
        foreach (var (label, ifMatch, status) in new[]
                 {
                     ("unquoted", "1", 400), ("a word", "version-one", 400), ("unterminated", "\"1", 400), ("*", "*", 400), ("a list with garbage", "\"1\", x", 400),
                     ("weak W/\"1\"", "W/\"1\"", 409), ("stale \"2\"", "\"2\"", 409), ("leading zero \"01\"", "\"01\"", 409), ("not a number \"abc\"", "\"abc\"", 409),
                     ("weak and stale", "W/\"1\", \"2\"", 409),
                 })
            t.Add(new("bad-if-match", $"patch If-Match {label}", "PATCH", "/v1/conversations/{conv}", """{"title":"changed"}""", status, FieldError: status == 400, IfMatch: ifMatch));
        t.Add(new("missing", "patch without If-Match", "PATCH", "/v1/conversations/{conv}", """{"title":"changed"}""", 428));

        // since on /v1/ws: an upgrade request with a bad eventId is refused before the upgrade.
        foreach (var since in new[] { "garbage", "%00", "1-", "-1-0", "99999999999999999999-0", "1-2-3" })
            t.Add(new("bad-since", $"ws since={since}", "GET", $"/v1/ws?since={since}", null, 400, FieldError: true, WebSocket: true));
        t.Add(new("bad-since", "ws without an upgrade", "GET", "/v1/ws", null, 400));

        // Sessions: an unknown refresh token is a 401; logout bodies that do not bind change nothing (an
        // empty logout would end the caller's own session, which is no bad input).
        t.Add(new("bad-value", "refresh an unknown token", "POST", "/v1/auth/refresh", """{"refreshToken":"not-a-token"}""", 401));
        t.Add(new("bad-value", "refresh a token of 10,000 characters", "POST", "/v1/auth/refresh", $$"""{"refreshToken":"{{new string('r', 10_000)}}"}""", 400, FieldError: true));
        t.Add(new("wrong-type", "logout {\"refreshToken\":5}", "POST", "/v1/auth/logout", """{"refreshToken":5}""", 400, FieldError: true));
        t.Add(new("lone-surrogate", "logout refreshToken: high \\ud800", "POST", "/v1/auth/logout", """{"refreshToken":"\ud800"}""", 400, FieldError: true));
        t.Add(new("malformed-json", "logout truncated", "POST", "/v1/auth/logout", """{"refreshToken":"x""", 400));

        // A clientMessageId sent again with another body.
        foreach (var (label, body) in new[] { ("another text", "changed"), ("a trailing space", "hello "), ("decomposed é", "he\\u0301llo") })
            t.Add(new("idempotency", $"send clientMessageId again with {label}", "POST", "/v1/conversations/{conv}/messages", $$"""{"body":"{{body}}","clientMessageId":"cm-1"}""", 422));
        return t;
    }
}

/// <summary>The bad-input table itself: every class and endpoint present; prints the case count per class.</summary>
[Trait("Category", "Smoke")]
public sealed class BadInputTableTests(ITestOutputHelper output)
{
    [Fact]
    public void The_table_covers_every_class_and_every_endpoint_that_takes_input()
    {
        var summary = new StringBuilder("bad-input cases per class:\n");
        foreach (var group in BadInputTests.Table.GroupBy(c => c.Class).OrderBy(g => g.Key))
            summary.Append(System.Globalization.CultureInfo.InvariantCulture, $"  {group.Key,-16} {group.Count(),4}\n");
        summary.Append(System.Globalization.CultureInfo.InvariantCulture, $"  {"total",-16} {BadInputTests.Table.Count,4}");
        output.WriteLine(summary.ToString());
        Assert.Equal(BadInputTests.Table.Count, BadInputTests.Table.DistinctBy(c => c.ToString()).Count()); // names are unique

        string[] classes = ["nul", "control", "noncharacter", "lone-surrogate", "invalid-utf8", "wrong-type", "nesting", "malformed-json",
            "oversize", "bad-id", "bad-cursor", "bad-limit", "bad-if-match", "bad-since", "handle", "bad-value", "media-type", "missing", "idempotency"];
        foreach (var c in classes) Assert.Contains(BadInputTests.Table, x => x.Class == c);
        string[] endpoints = ["register", "login", "create", "list", "get", "patch", "delete", "participants", "add", "remove", "send", "history", "read", "ws", "flags", "refresh", "logout", "search"];
        foreach (var e in endpoints) Assert.Contains(BadInputTests.Table, x => x.Name.StartsWith(e + " ", StringComparison.Ordinal));
    }
}
