using System.Net;
using System.Net.Http.Json;
using Parley.Server.Tests.Infrastructure;

namespace Parley.Server.Tests.Features;

[Collection(ParleyCollection.Name)]
[Trait("Category", "Integration")]
public sealed class AuthApiTests(ParleyFixture fixture)
{
    [Fact]
    public async Task Register_returns_the_user_without_its_password()
    {
        using var api = fixture.Client();
        var handle = ApiClient.UniqueHandle("reg");
        var response = await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle, password = "secret123", displayName = "Ada" });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var user = await ApiClient.Json(response);
        Assert.Equal(handle, user["handle"]!.GetValue<string>());
        Assert.Equal("Ada", user["displayName"]!.GetValue<string>());
        Assert.True(Guid.TryParse(user["id"]!.GetValue<string>(), out var id) && id.Version == 7);
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", user["createdAt"]!.GetValue<string>());
        Assert.DoesNotContain("password", (await response.Content.ReadAsStringAsync()).ToLowerInvariant());
    }

    [Fact]
    public async Task A_taken_handle_is_a_conflict()
    {
        using var api = fixture.Client();
        var handle = ApiClient.UniqueHandle("dup");
        Assert.Equal(HttpStatusCode.Created, (await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle, password = "secret123" })).StatusCode);
        await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle, password = "other-secret" }), HttpStatusCode.Conflict);
    }

    [Theory]
    [InlineData("ab", "secret123", "handle")]
    [InlineData("Upper_Case", "secret123", "handle")]
    [InlineData("has space", "secret123", "handle")]
    [InlineData("0123456789012345678901234567890123", "secret123", "handle")]
    [InlineData("valid_handle", "short", "password")]
    [InlineData(null, "secret123", "handle")]
    public async Task Invalid_registrations_name_the_field(string? handle, string password, string field)
    {
        using var api = fixture.Client();
        var problem = await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/register", new { handle, password }), HttpStatusCode.BadRequest);
        Assert.NotNull(problem["errors"]![field]);
    }

    [Fact]
    public async Task Login_issues_a_bearer_token_that_opens_me()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var me = await api.GetAsync(user, "/v1/me");
        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        Assert.Equal(user.Handle, (await ApiClient.Json(me))["handle"]!.GetValue<string>());
    }

    [Fact]
    public async Task Wrong_password_and_unknown_handle_are_both_401()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle = user.Handle, password = "wrong password" }), HttpStatusCode.Unauthorized);
        await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle = "nobody_" + Guid.NewGuid().ToString("N")[..8], password = "whatever1" }), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Repeated_failures_are_throttled_with_429_even_for_the_right_password()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        for (var i = 0; i < 5; i++)
            await ApiClient.AssertProblem(await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle = user.Handle, password = "guess-" + i }), HttpStatusCode.Unauthorized);
        var blocked = await api.Http.PostAsJsonAsync("/v1/auth/login", new { handle = user.Handle, password = "correct horse" });
        await ApiClient.AssertProblem(blocked, HttpStatusCode.TooManyRequests);
        Assert.True(blocked.Headers.RetryAfter is not null, "429 carries Retry-After");
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Bearer")]
    [InlineData("Bearer not.a.token")]
    [InlineData("Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")]
    [InlineData("Basic dXNlcjpwYXNz")]
    public async Task Missing_or_bad_tokens_are_401_problems(string? authorization)
    {
        using var api = fixture.Client();
        var response = await api.SendAsync(null, HttpMethod.Get, "/v1/me", configure: r =>
        {
            if (authorization is not null) r.Headers.TryAddWithoutValidation("Authorization", authorization);
        });
        await ApiClient.AssertProblem(response, HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_token_signed_with_another_key_is_refused()
    {
        using var api = fixture.Client();
        var user = await api.NewUserAsync();
        var parts = user.Token.Split('.');
        var forged = $"{parts[0]}.{parts[1]}.{new string('A', parts[2].Length)}";
        await ApiClient.AssertProblem(await api.GetAsync(user with { Token = forged }, "/v1/me"), HttpStatusCode.Unauthorized);
    }
}
