using System.Net;
using System.Net.Http.Json;
using System.Text.Json.Nodes;
using Parley.Data;
using Parley.Data.Users;
using Parley.Server.Features.Realtime;
using Parley.Server.Tests.Infrastructure;
using Parley.Server.Tests.Realtime;
using Parley.Kit.Load;

namespace Parley.Server.Tests.Features;

/// <summary>Refresh-token rotation and reuse detection, logout, and WebSockets that end with their token.</summary>
[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class SessionTests(ParleyFixture fixture)
{
    private sealed record Tokens(string Access, string Refresh);

    [Fact]
    public async Task Refresh_rotates_both_tokens_and_the_new_access_token_works()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync("rf");
        var first = await LoginAsync(api, user.Handle);

        var second = await RefreshAsync(api, first.Refresh);

        Assert.NotEqual(first.Refresh, second.Refresh);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user with { Token = second.Access }, "/v1/me")).StatusCode);
        var third = await RefreshAsync(api, second.Refresh);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user with { Token = third.Access }, "/v1/me")).StatusCode);
    }

    [Fact]
    public async Task Reusing_a_rotated_refresh_token_revokes_the_whole_family()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync("ru");
        var stolen = await LoginAsync(api, user.Handle);
        var current = await RefreshAsync(api, stolen.Refresh);
        var otherSession = await LoginAsync(api, user.Handle);

        await ApiClient.AssertProblem(await PostRefresh(api, stolen.Refresh), HttpStatusCode.Unauthorized);

        // The family is gone: the newest refresh token and its access token are refused too.
        await ApiClient.AssertProblem(await PostRefresh(api, current.Refresh), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await api.GetAsync(user with { Token = current.Access }, "/v1/me"), HttpStatusCode.Unauthorized);
        // Another login of the same user is another family and lives on.
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user with { Token = otherSession.Access }, "/v1/me")).StatusCode);
        await RefreshAsync(api, otherSession.Refresh);
    }

    [Theory]
    [InlineData("""{}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"refreshToken":""}""", HttpStatusCode.BadRequest)]
    [InlineData("""{"refreshToken":"not-a-token-we-issued"}""", HttpStatusCode.Unauthorized)]
    public async Task A_missing_or_unknown_refresh_token_is_refused(string body, HttpStatusCode status)
    {
        using var api = fixture.Client();
        var response = await api.Http.PostAsync("/v1/auth/refresh", new StringContent(body, System.Text.Encoding.UTF8, "application/json"));
        await ApiClient.AssertProblem(response, status);
    }

    [Fact]
    public async Task Logout_with_the_refresh_token_revokes_it_the_access_token_and_closes_the_sessions_sockets()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync("lo");
        var session = await LoginAsync(api, user.Handle);
        var inSession = user with { Token = session.Access };
        await using var socket = await WsClient.ConnectAsync(fixture.BaseAddress, session.Access);
        await using var otherSocket = await WsClient.ConnectAsync(fixture.BaseAddress, user.Token);

        // API.md's form: the refresh token in the body, no access token needed.
        Assert.Equal(HttpStatusCode.NoContent, (await api.Http.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = session.Refresh })).StatusCode);

        Assert.Equal(CloseCodes.SessionRevoked, await socket.WaitForCloseAsync());
        await ApiClient.AssertProblem(await api.GetAsync(inSession, "/v1/me"), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await PostRefresh(api, session.Refresh), HttpStatusCode.Unauthorized);
        // The user's other session (NewUserAsync's login) is untouched.
        await otherSocket.PingAsync();
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user, "/v1/me")).StatusCode);
    }

    [Fact]
    public async Task Logout_without_a_session_to_name_is_401()
    {
        using var api = fixture.Client();
        await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = "never-issued" }), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await api.Http.PostAsync("/v1/auth/logout", null), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_logout_on_another_node_closes_the_socket_within_the_session_check()
    {
        await using var other = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Auth:SessionCheckSeconds"] = "1" });
        using var api = fixture.Client();
        var user = await api.NewUserAsync("lx");
        var session = await LoginAsync(api, user.Handle);
        await using var socket = await WsClient.ConnectAsync(other.Api.Http.BaseAddress!, session.Access);

        // With no body, logout revokes the session of the calling access token.
        Assert.Equal(HttpStatusCode.NoContent, (await api.PostAsync(user with { Token = session.Access }, "/v1/auth/logout", null)).StatusCode);

        Assert.Equal(CloseCodes.SessionRevoked, await socket.WaitForCloseAsync());
        await ApiClient.AssertProblem(await PostRefresh(api, session.Refresh), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await other.Api.GetAsync(user with { Token = session.Access }, "/v1/me"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_socket_is_closed_when_its_access_token_expires()
    {
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Auth:AccessTokenSeconds"] = "5" });
        var user = await node.Api.NewUserAsync("ex");
        await using var socket = await WsClient.ConnectAsync(node.Api.Http.BaseAddress!, user.Token, waitLive: false);

        Assert.Equal(CloseCodes.TokenExpired, await socket.WaitForCloseAsync());
        await ApiClient.AssertProblem(await node.Api.GetAsync(user, "/v1/me"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Past_the_socket_cap_the_oldest_socket_of_the_user_is_closed()
    {
        await using var node = await fixture.StartOwnNodeAsync(new Dictionary<string, string?> { ["Parley:Delivery:MaxSocketsPerUser"] = "2" });
        var user = await node.Api.NewUserAsync("cap");
        var address = node.Api.Http.BaseAddress!;
        await using var oldest = await WsClient.ConnectAsync(address, user.Token);
        await using var middle = await WsClient.ConnectAsync(address, user.Token);
        await using var newest = await WsClient.ConnectAsync(address, user.Token);

        Assert.Equal(CloseCodes.TooManySockets, await oldest.WaitForCloseAsync());
        await middle.PingAsync();
        await newest.PingAsync();
    }

    [Fact]
    public async Task The_admin_role_lives_in_the_database_grant_opens_the_admin_api_and_revoke_closes_it()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync("adm");
        await using var db = new ParleyDatabase(DataOptions.ForTool(fixture.Stack.PrimaryConnectionString));
        var roles = new AdminRoles(db);
        await ApiClient.AssertProblem(await api.GetAsync(user, "/v1/admin/flags"), HttpStatusCode.Forbidden);

        Assert.Equal(GrantOutcome.Granted, await roles.GrantAsync(user.Handle, holdUntilRegistered: false, CancellationToken.None));
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(user, "/v1/admin/flags")).StatusCode);

        Assert.True(await roles.RevokeAsync(user.Handle, CancellationToken.None));
        await ApiClient.AssertProblem(await api.GetAsync(user, "/v1/admin/flags"), HttpStatusCode.Forbidden);
        Assert.Equal(GrantOutcome.NoSuchUser, await roles.GrantAsync(ApiClient.UniqueHandle("ghost"), holdUntilRegistered: false, CancellationToken.None));
    }

    [Fact]
    public async Task A_held_grant_makes_the_handle_an_admin_when_it_registers()
    {
        using var api = fixture.Client();
        var handle = ApiClient.UniqueHandle("held");
        await using var db = new ParleyDatabase(DataOptions.ForTool(fixture.Stack.PrimaryConnectionString));
        Assert.Equal(GrantOutcome.Held, await new AdminRoles(db).GrantAsync(handle, holdUntilRegistered: true, CancellationToken.None));

        Assert.Equal(HttpStatusCode.Created, (await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle, password = "correct horse" })).StatusCode);
        var session = await LoginAsync(api, handle);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync(new ApiUser(Guid.Empty, handle, session.Access), "/v1/admin/flags")).StatusCode);
    }

    private static async Task<Tokens> LoginAsync(ApiClient api, string handle)
    {
        var response = await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle, password = "correct horse" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return Read(await ApiClient.Json(response));
    }

    private static async Task<Tokens> RefreshAsync(ApiClient api, string refreshToken)
    {
        var response = await PostRefresh(api, refreshToken);
        var body = await ApiClient.Json(response);
        Assert.True(response.StatusCode == HttpStatusCode.OK, body.ToJsonString());
        Assert.Equal("Bearer", body["tokenType"]!.GetValue<string>());
        Assert.True(body["expiresIn"]!.GetValue<int>() > 0);
        return Read(body);
    }

    private static Task<HttpResponseMessage> PostRefresh(ApiClient api, string refreshToken) =>
        api.Http.PostAsJsonAsync("/v1/auth/refresh", new { refreshToken });

    private static Tokens Read(JsonObject body) =>
        new(body["accessToken"]!.GetValue<string>(), body["refreshToken"]!.GetValue<string>());
}
